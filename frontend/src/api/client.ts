// The API client, typed from the OpenAPI schema (src/api/schema.d.ts is generated, never edited).
import createClient from "openapi-fetch";
import type { paths } from "./schema";

function csrfToken(): string {
  return document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "";
}

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use({
  onRequest({ request }) {
    request.headers.set("X-CSRFToken", csrfToken());
    return request;
  },
});

export type ApiError = { error?: { code: string; message: string; field?: string; node_id?: string; problems?: Problem[] } };
export type Problem = { node_id: string | null; field: string | null; code: string; message: string };
export type CatalogEntry = {
  type: string; label: string; group: string; description: string; trigger: boolean; step: boolean;
  schema: { properties?: Record<string, JsonSchema>; required?: string[] };
  handles: string[] | null; dynamic_handles: boolean; code_fields: string[];
} & NodeSpecFlags;
/** What other code may know of a node type: flags of its spec (builder/nodes/base.py: NodeSpec), never its name. */
export type NodeSpecFlags = {
  trigger?: boolean; step?: boolean; merges?: boolean; body_handle?: string | null; passes_input?: boolean;
  handle_from_output?: "boolean" | "value" | "decision" | null;
};
export type JsonSchema = {
  type?: string; enum?: string[]; description?: string; default?: unknown; oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>; additionalProperties?: boolean | JsonSchema; items?: JsonSchema;
  required?: string[]; minimum?: number; maximum?: number; pattern?: string;
};

export function errorMessage(error: unknown): string {
  const e = (error as ApiError)?.error;
  return e ? `${e.message}${e.field ? ` (${e.field})` : ""}` : "request failed";
}
