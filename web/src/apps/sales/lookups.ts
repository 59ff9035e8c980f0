// Names for the ids a deal carries: its company, read once per company the page shows.
import { useSession } from "../../session";
import { useLoad } from "../../ui";
import { BASE } from "./types";
import type { Company } from "./types";

/** The names of these companies by id (one that cannot be read keeps its id as its name). */
export function useCompanyNames(ids: string[]): Map<string, string> {
  const { api } = useSession();
  const unique = [...new Set(ids)].sort();
  const names = useLoad(async () => {
    const found = await Promise.all(
      unique.map((id) =>
        api.get<Company>(`${BASE}/companies/${encodeURIComponent(id)}`).then(
          (company) => [id, company.name] as const,
          () => [id, id] as const,
        ),
      ),
    );
    return new Map<string, string>(found);
  }, unique.join(","));
  return names.data ?? new Map<string, string>();
}

export const dealPath = (id: string) => `/apps/sales/deals?deal=${encodeURIComponent(id)}`;
