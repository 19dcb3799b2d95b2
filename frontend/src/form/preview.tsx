// The value of an expression field against the workflow's last run, shown under it as you type
// (n8n's expression preview). Evaluated by the server in a fresh sandbox context (POST /preview),
// never in the editor's page: the expression is tenant code, and a teammate's must not run here.
import { createContext, useContext, useEffect, useState } from "react";
import { api } from "../api/client";
import { newestOnly } from "../exclusive";

/** The last run's data as the edited node sees it: event, steps (outputs by node id), input. */
export type Sample = { event: unknown; steps: Record<string, unknown>; input: unknown };
export const SampleContext = createContext<Sample | null>(null);

const ticket = newestOnly();

export function ExpressionPreview({ id, value }: { id: string; value: string }) {
  const sample = useContext(SampleContext);
  const [shown, setShown] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => {
    if (!sample || !value.includes("{{")) { setShown(null); return; }
    // A quarter second after the last keystroke; only the newest answer is shown.
    const timer = window.setTimeout(async () => {
      const newest = ticket();
      const { data, error } = await api.POST("/api/v1/preview", { body: { value, context: sample } });
      if (!newest()) return;
      if (error || !data) setShown({ ok: false, text: "no preview: the sample data was refused" });
      else setShown(data.ok ? { ok: true, text: typeof data.value === "string" ? data.value : JSON.stringify(data.value) } : { ok: false, text: data.error ?? "" });
    }, 250);
    return () => window.clearTimeout(timer);
  }, [sample, value]);
  if (!shown) return null;
  return (
    <output id={`${id}-preview`} className={shown.ok ? "expr-preview" : "expr-preview bad"} aria-label="Preview with the last run's data">
      {shown.ok ? `= ${shown.text}` : shown.text}</output>
  );
}
