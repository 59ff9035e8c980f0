// The shell: the header (Header.tsx), the page for the path, the keyboard shortcuts and their list.
import { useEffect, useState } from "react";
import { appPage } from "./apps/pages";
import type { AppList } from "./types";
import { ShortcutsHelp } from "./components/ShortcutsHelp";
import { Header } from "./Header";
import { match, navigate, useFocusOnNavigate, useLocation } from "./router";
import { homePath } from "./roles";
import { actOnPage, useShortcuts } from "./shortcuts";
import { useSession } from "./session";
import { Loading, useLoad } from "./ui";
import { AdminPage } from "./pages/admin";
import { DeadLettersPage } from "./pages/DeadLettersPage";
import { HooksPage } from "./pages/HooksPage";
import { JoinPage } from "./pages/JoinPage";
import { KnowledgePage } from "./pages/KnowledgePage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { PromptsPage } from "./pages/PromptsPage";
import { ReviewsPage } from "./pages/ReviewsPage";
import { RunDetailPage } from "./pages/run-detail";
import { RunsPage } from "./pages/RunsPage";
import { SchedulesPage } from "./pages/SchedulesPage";
import { UsagePage } from "./pages/UsagePage";
import { WorkflowDetailPage } from "./pages/workflows/WorkflowDetailPage";
import { WorkflowsPage } from "./pages/workflows/WorkflowsPage";

function Page({ path, apps }: { path: string; apps: AppList | undefined }) {
  const run = match("/runs/:id", path);
  if (run) return <RunDetailPage runId={run.id as string} />;
  const workflow = match("/workflows/:id", path);
  if (workflow) return <WorkflowDetailPage key={workflow.id} workflowId={workflow.id as string} />;
  const appRoute = match("/apps/:app/:page", path);
  if (appRoute) {
    if (!apps) return <Loading label="Loading apps…" />;
    const enabled = apps.items.map((app) => app.name);
    const AppPage = appPage(enabled, appRoute.app as string, appRoute.page as string);
    return AppPage ? <AppPage /> : <NotFoundPage />;
  }
  switch (path) {
    case "/runs":
      return <RunsPage />;
    case "/workflows":
      return <WorkflowsPage />;
    case "/reviews":
      return <ReviewsPage />;
    case "/dead-letters":
      return <DeadLettersPage />;
    case "/prompts":
      return <PromptsPage />;
    case "/usage":
      return <UsagePage />;
    case "/knowledge":
      return <KnowledgePage />;
    case "/schedules":
      return <SchedulesPage />;
    case "/hooks":
      return <HooksPage />;
    case "/admin":
      return <AdminPage />;
    default:
      return <NotFoundPage />;
  }
}

export function App() {
  const { me, loading, api } = useSession();
  // The enabled apps' pages join the navigation; the server says which apps are enabled.
  const apps = useLoad<AppList>(
    () => (me ? api.get<AppList>("/api/v1/apps") : Promise.resolve({ items: [] })),
    me ? `apps:${me.tenant.slug}` : "signed-out",
  );
  const { path } = useLocation();
  useFocusOnNavigate(path);

  useEffect(() => {
    if (me && (path === "/" || path === "/login" || path === "/join")) navigate(homePath(me), true);
  }, [me, path]);
  const [help, setHelp] = useState(false);
  useShortcuts((command) => {
    if (!me) return;
    if (command.kind === "help") setHelp((open) => !open);
    else if (command.kind === "close") setHelp(false);
    else if (command.kind === "go") navigate(command.path);
    else actOnPage(command);
  });

  if (loading) {
    return (
      <main className="center">
        <Loading label="Signing in…" />
      </main>
    );
  }
  if (!me) return path === "/join" ? <JoinPage /> : <LoginPage />;

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header me={me} path={path} apps={apps.data} onShortcuts={() => setHelp(true)} />
      {help ? <ShortcutsHelp onClose={() => setHelp(false)} /> : null}
      <main id="main">
        <Page path={path === "/" ? "/runs" : path} apps={apps.data} />
      </main>
    </div>
  );
}
