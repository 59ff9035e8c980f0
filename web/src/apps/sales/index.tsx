// The sales app's dashboard pages, by the keys its `App.pages` declares (src/batonflow/apps/sales):
// the leads, the pipeline board, the deals (a chosen one with ?deal=<id>) and the product catalog.
import type { AppPages } from "../pages";
import { BoardPage } from "./BoardPage";
import { DealsPage } from "./DealsPage";
import { LeadsPage } from "./LeadsPage";
import { ProductsPage } from "./ProductsPage";
import "./sales.css";

export const pages: AppPages = {
  leads: LeadsPage,
  board: BoardPage,
  deals: DealsPage,
  products: ProductsPage,
};
