// Who is signed in: the API client, the `/me` answer, sign-in and sign-out.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";
import { Api } from "./api";
import type { Me } from "./types";

interface SessionValue {
  api: Api;
  me: Me | null;
  loading: boolean;
  signIn: (email: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ api, children }: { api: Api; children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(api.signedIn);

  const load = useCallback(async () => {
    if (!api.signedIn) {
      setMe(null);
      setLoading(false);
      return;
    }
    setLoading(true);
    try {
      setMe(await api.get<Me>("/api/v1/me"));
    } catch {
      setMe(null);
    } finally {
      setLoading(false);
    }
  }, [api]);

  useEffect(() => {
    api.onSignedOut = () => setMe(null);
    void load();
  }, [api, load]);

  const value = useMemo<SessionValue>(
    () => ({
      api,
      me,
      loading,
      signIn: async (email, password) => {
        await api.login(email, password);
        await load();
      },
      signOut: async () => {
        await api.logout();
        setMe(null);
      },
    }),
    [api, me, loading, load],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The signed-in principal; only for pages shown after sign-in. */
export function useMe(): Me {
  const { me } = useSession();
  if (!me) throw new Error("useMe before sign-in");
  return me;
}
