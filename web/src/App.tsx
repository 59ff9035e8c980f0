// The shell: a header with the pages this role may use and who is signed in, then the page.
import { useEffect } from "react";
import { appPage } from "./apps/pages";
import type { AppList } from "./types";
import { Link, match, navigate, useFocusOnNavigate, useLocation } from "./router";
import { mainRole, navFor } from "./roles";
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
  const { me, loading, signOut, api } = useSession();
  // The enabled apps' pages join the navigation; the server says which apps are enabled.
  const apps = useLoad<AppList>(
    () => (me ? api.get<AppList>("/api/v1/apps") : Promise.resolve({ items: [] })),
    me ? `apps:${me.tenant.slug}` : "signed-out",
  );
  const { path } = useLocation();
  useFocusOnNavigate(path);

  useEffect(() => {
    if (me && (path === "/" || path === "/login" || path === "/join")) navigate("/runs", true);
  }, [me, path]);

  if (loading) {
    return (
      <main className="center">
        <Loading label="Signing in…" />
      </main>
    );
  }
  if (!me) return path === "/join" ? <JoinPage /> : <LoginPage />;

  const who = me.user ? me.user.name || me.user.email : "API key";
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/runs" className="brand">
          Batonflow
        </Link>
        <nav aria-label="Pages">
          <ul>
            {navFor(me).map((item) => (
              <li key={item.path}>
                <Link to={item.path} aria-current={path === item.path || path.startsWith(`${item.path}/`) ? "page" : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
            {(apps.data?.items ?? []).flatMap((app) =>
              app.pages.map((page) => (
                <li key={page.path}>
                  <Link to={page.path} aria-current={path === page.path ? "page" : undefined} title={app.title}>
                    {page.title}
                  </Link>
                </li>
              )),
            )}
          </ul>
        </nav>
        <div className="whoami" data-testid="whoami">
          <span className="who" title={me.user?.email}>
            {who}
          </span>
          <span className="tenant" title="Tenant">
            {me.tenant.name || me.tenant.slug}
          </span>
          <span className={`badge role-${mainRole(me)}`} title="Role">
            {mainRole(me)}
          </span>
          <button type="button" className="link" onClick={() => void signOut().then(() => navigate("/login"))}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">
        <Page path={path === "/" ? "/runs" : path} apps={apps.data} />
      </main>
    </div>
  );
}
