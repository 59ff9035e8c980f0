// The tenant's users: change a role in place, deactivate or reactivate anyone but yourself.
import { useState } from "react";
import { When } from "../../components/When";
import { ROLES } from "../../roles";
import { useMe, useSession } from "../../session";
import type { Role, UserChange, UserDetail } from "../../types";
import { Empty, Show, messageOf } from "../../ui";
import { LoadMore } from "./LoadMore";
import { usePages } from "./usePages";

export function Users() {
  const { api } = useSession();
  const me = useMe();
  const pages = usePages<UserDetail>("/api/v1/users");
  const users = pages.loaded;
  const [error, setError] = useState<unknown>(null);
  const change = async (user: UserDetail, body: UserChange) => {
    setError(null);
    try {
      await api.request("PATCH", `/api/v1/users/${user.id}`, body);
    } catch (caught) {
      setError(caught);
    }
    await users.reload();
  };
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <Show loaded={users} label="Loading users…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Email</th>
                      <th scope="col">Role</th>
                      <th scope="col">Last sign-in</th>
                      <th scope="col">Active</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((user) => (
                      <tr key={user.id}>
                        <td>{user.name}</td>
                        <td>{user.email}</td>
                        <td>
                          <label className="sr-only" htmlFor={`role-${user.id}`}>
                            Role of {user.email}
                          </label>
                          <select id={`role-${user.id}`} value={user.role} onChange={(e) => void change(user, { role: e.target.value as Role })}>
                            {ROLES.map((role) => (
                              <option key={role} value={role}>
                                {role}
                              </option>
                            ))}
                          </select>
                        </td>
                        <td>
                          <When iso={user.last_login_at} empty="never" />
                        </td>
                        <td>
                          {user.id === me.user?.id ? (
                            <span className="muted">you</span>
                          ) : (
                            <button type="button" onClick={() => void change(user, { active: !user.active })}>
                              {user.active ? "Deactivate" : "Reactivate"}
                            </button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <LoadMore pages={pages} what="users" />
            </>
          )
        }
      </Show>
    </section>
  );
}
