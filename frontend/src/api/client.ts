// The API client, typed from the OpenAPI schema (src/api/schema.d.ts is generated, never edited).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

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
type Schemas = components["schemas"];
// The answers the editor reads, as the server declares them; only the free-form JSON they carry
// (a node type's JSON Schema, a graph) is given its shape here.
/** What other code may know of a node type: flags of its spec (builder/nodes/base.py: NodeSpec), never its name. */
type Flag = "trigger" | "step" | "merges" | "body_handle" | "passes_input" | "handle_from_output" | "seed_kind";
export type NodeSpecFlags = Partial<Pick<Schemas["CatalogEntryOut"], Flag>>;
export type CatalogEntry = Omit<Schemas["CatalogEntryOut"], "schema" | Exclude<Flag, "trigger" | "step">> & NodeSpecFlags & {
  schema: { properties?: Record<string, JsonSchema>; required?: string[] };
};
export type WorkflowOut = Schemas["WorkflowOut"];
export type VersionOut = Schemas["VersionOut"];
export type VersionDiff = Schemas["VersionDiffOut"];
export type VersionCheck = Schemas["VersionCheckOut"];
export type Me = Schemas["MeOut"];
export type TestDelivery = Schemas["TestDeliveryOut"];
export type JsonSchema = {
  type?: string; title?: string; enum?: string[]; description?: string; default?: unknown; oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>; additionalProperties?: boolean | JsonSchema; items?: JsonSchema;
  required?: string[]; minimum?: number; maximum?: number; pattern?: string; format?: string;
};

export function errorMessage(error: unknown): string {
  const e = (error as ApiError)?.error;
  return e ? `${e.message}${e.field ? ` (${e.field})` : ""}` : "request failed";
}
