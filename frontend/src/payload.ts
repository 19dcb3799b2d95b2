// The test payload of Run: JSON text, kept per workflow in localStorage as typed.

export type Checked = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses the payload; empty text means no params (null). The error is the parser's own words. */
export function checkPayload(text: string): Checked {
  if (!text.trim()) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

const key = (workflowId: number) => `params:${workflowId}`;

export function loadPayload(workflowId: number): string {
  return localStorage.getItem(key(workflowId)) ?? "{}";
}

export function savePayload(workflowId: number, text: string): void {
  localStorage.setItem(key(workflowId), text);
}
