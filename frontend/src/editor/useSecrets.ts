// The tenant's secret names (never values), for the secret picker and the "missing secret" marks.
// null while unknown, or when the member may not list them (only owners may): nothing is marked then.
import { useCallback, useEffect, useState } from "react";
import { api } from "../api/client";

export function useSecretNames(): { names: Set<string> | null; reload: () => void } {
  const [names, setNames] = useState<Set<string> | null>(null);
  const reload = useCallback(() => {
    api.GET("/api/v1/secrets").then(({ data }) => setNames(data ? new Set(data) : null));
  }, []);
  useEffect(() => {
    reload();
    // Back from the secrets page (another tab, or this one): the marks follow.
    window.addEventListener("focus", reload);
    return () => window.removeEventListener("focus", reload);
  }, [reload]);
  return { names, reload };
}
