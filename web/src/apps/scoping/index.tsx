// The scoping app's dashboard pages, by the keys its `App.pages` declares
// (src/batonflow/apps/scoping). One page: the sessions list, a session's stage wizard
// (?session=<id>) and its charter (?session=<id>&view=charter).
import { useLocation } from "../../router";
import type { AppPages } from "../pages";
import { CharterView } from "./CharterView";
import { SessionsList } from "./SessionsList";
import { Wizard } from "./Wizard";
import "./scoping.css";

function ScopingPage() {
  const { search } = useLocation();
  const session = search.get("session");
  if (!session) return <SessionsList />;
  if (search.get("view") === "charter") return <CharterView sessionId={session} />;
  return <Wizard sessionId={session} />;
}

export const pages: AppPages = {
  sessions: ScopingPage,
};
