// The top bar: the pages this role may use (Reviews with its waiting count), the enabled apps'
// pages, the theme switch, the shortcuts list and who is signed in.
import { useEffect } from "react";
import { Link, navigate } from "./router";
import { can, homePath, mainRole, navFor } from "./roles";
import { useSession } from "./session";
import type { AppList, Me, ReviewList } from "./types";
import { ThemeToggle } from "./components/ThemeToggle";
import { useLoad } from "./ui";

const PENDING_EVERY_MS = 10_000;
const PENDING_LIMIT = 100;

/** How many reviews wait for a person, kept fresh while the dashboard is open. */
function usePendingReviews(me: Me): number | null {
  const { api } = useSession();
  const allowed = can(me, "reviews.view");
  const pending = useLoad<number | null>(
    () => (allowed ? api.get<ReviewList>(`/api/v1/reviews?status=pending&limit=${PENDING_LIMIT}`).then((list) => list.items.length) : Promise.resolve(null)),
    `pending:${me.tenant.slug}:${allowed}`,
  );
  const reload = pending.reload;
  useEffect(() => {
    if (!allowed) return;
    const timer = setInterval(() => void reload(), PENDING_EVERY_MS);
    return () => clearInterval(timer);
  }, [allowed, reload]);
  return pending.data ?? null;
}

export function Header({ me, path, apps, onShortcuts }: { me: Me; path: string; apps: AppList | undefined; onShortcuts: () => void }) {
  const { signOut } = useSession();
  const pending = usePendingReviews(me);
  const who = me.user ? me.user.name || me.user.email : "API key";
  return (
    <header className="topbar">
      <Link to={homePath(me)} className="brand">
        Batonflow
      </Link>
      <nav aria-label="Pages">
        <ul>
          {navFor(me).map((item) => {
            const count = item.path === "/reviews" && pending ? (pending >= PENDING_LIMIT ? `${PENDING_LIMIT}+` : String(pending)) : null;
            return (
              <li key={item.path}>
                <Link
                  to={item.path}
                  aria-current={path === item.path || path.startsWith(`${item.path}/`) ? "page" : undefined}
                  aria-label={count ? `${item.label}, ${count} waiting` : undefined}
                >
                  {item.label}
                  {count ? (
                    <span className="count" aria-hidden="true" data-testid="pending-count">
                      {count}
                    </span>
                  ) : null}
                </Link>
              </li>
            );
          })}
          {(apps?.items ?? []).flatMap((app) =>
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
        <ThemeToggle />
        <button type="button" className="link" onClick={onShortcuts} aria-keyshortcuts="?" title="Keyboard shortcuts (?)">
          Keys
        </button>
        <button type="button" className="link" onClick={() => void signOut().then(() => navigate("/login"))}>
          Sign out
        </button>
      </div>
    </header>
  );
}
