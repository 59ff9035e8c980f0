// The sales app's dashboard pages, by the keys its `App.pages` declares (src/batonflow/apps/sales):
// the leads, the pipeline board, the deals (a chosen one with ?deal=<id>), the product catalog,
// the email log (?email=<id>), the invoices (?invoice=<id>), the contracts (?contract=<id>) and
// the settings (discount policy and scoring rules).
import type { AppPages } from "../pages";
import { BoardPage } from "./BoardPage";
import { ContractsPage } from "./ContractsPage";
import { DealsPage } from "./DealsPage";
import { EmailsPage } from "./EmailsPage";
import { InvoicesPage } from "./InvoicesPage";
import { LeadsPage } from "./LeadsPage";
import { ProductsPage } from "./ProductsPage";
import { SettingsPage } from "./SettingsPage";
import "./sales.css";

export const pages: AppPages = {
  leads: LeadsPage,
  board: BoardPage,
  deals: DealsPage,
  products: ProductsPage,
  emails: EmailsPage,
  invoices: InvoicesPage,
  contracts: ContractsPage,
  settings: SettingsPage,
};
