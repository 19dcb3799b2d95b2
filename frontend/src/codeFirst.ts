// What the app must know of code-first workflows before it loads their editor (CodeFirst.tsx):
// whether a workflow is one, and the program a new one starts with. Kept out of the editor's chunk.
import { api } from "./api/client";

export const PROGRAM_TEMPLATE = `import { NonRetryableError } from "cloudflare:workflows";

export default async function run(event, step) {
  const order = await step.do("fetch_order", { retries: { limit: 3, delay: "5 seconds" } }, async (ctx) => {
    return { id: event.payload.id ?? 1, total: event.payload.total ?? 120 };
  });
  if (order.total > 100) {
    await step.sleep("cool_off", "1 second");
  }
  return { ok: true, order };
}
`;

/** Whether a workflow is code-first: a `{program}` draft, or no draft and a published version without a graph. */
export async function isCodeFirst(workflowId: number): Promise<boolean> {
  const { data } = await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } });
  if (!data) return false;
  const draft = data.draft as { program?: unknown; nodes?: unknown } | null;
  if (draft && typeof draft.program === "string") return true;
  if (draft && Array.isArray(draft.nodes)) return false;
  if (!data.published_version) return false;
  const { data: v } = await api.GET("/api/v1/workflows/{workflow_id}/versions/{number}", { params: { path: { workflow_id: workflowId, number: data.published_version } } });
  return v?.graph == null;
}
