import { describe, expect, it } from "vitest";
import type { CatalogEntry } from "./api/client";
import { missingSecrets, secretRefs, secretUses } from "./secrets";

const webhook = {
  type: "webhook", label: "Webhook", group: "triggers", description: "", trigger: true, step: false, handles: null,
  dynamic_handles: false, code_fields: [],
  schema: { properties: { auth: { enum: ["none", "bearer"] }, secret_name: { type: "string", format: "secret-name", default: "WEBHOOK_SECRET" } } },
} as CatalogEntry;

describe("secrets a workflow uses", () => {
  it("reads the secret-name fields, their default when empty, none without auth", () => {
    expect(secretRefs({ id: "h", type: "webhook", data: {} }, webhook)).toEqual(["WEBHOOK_SECRET"]);
    expect(secretRefs({ id: "h", type: "webhook", data: { secret_name: "GH" } }, webhook)).toEqual(["GH"]);
    expect(secretRefs({ id: "h", type: "webhook", data: { auth: "none", secret_name: "GH" } }, webhook)).toEqual([]);
  });

  it("marks the missing ones only when the tenant's names are known", () => {
    expect(missingSecrets({ id: "h", type: "webhook", data: {} }, webhook, new Set(["OTHER"]))).toEqual(["WEBHOOK_SECRET"]);
    expect(missingSecrets({ id: "h", type: "webhook", data: {} }, webhook, new Set(["WEBHOOK_SECRET"]))).toEqual([]);
    expect(missingSecrets({ id: "h", type: "webhook", data: {} }, webhook, null)).toEqual([]);
  });

  it("lists where each is used", () => {
    const uses = secretUses([{ id: 1, name: "Orders", draft: { nodes: [{ id: "hook", type: "webhook", data: {} }] } },
                             { id: 2, name: "Empty", draft: null }], { webhook });
    expect(uses.get("WEBHOOK_SECRET")).toEqual([{ workflow: "Orders", workflowId: 1, node: "hook" }]);
  });
});
