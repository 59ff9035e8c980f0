// The portfolio app's dashboard pages, by the keys its `App.pages` declares
// (src/batonflow/apps/portfolio): the portfolios (a chosen one with ?portfolio=<id>: its ledger
// import, holdings and overview) and the pricing packs.
import type { AppPages } from "../pages";
import { PacksPage } from "./PacksPage";
import { PortfoliosPage } from "./PortfoliosPage";
import "./portfolio.css";

export const pages: AppPages = {
  portfolios: PortfoliosPage,
  packs: PacksPage,
};
