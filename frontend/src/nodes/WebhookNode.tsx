// Webhook trigger: its auth scheme and response mode (the URL and a curl example are in the panel).
import { nodeComponent } from "./BaseNode";

export const WebhookNode = nodeComponent("⚡", (c) =>
  `${String(c.auth ?? "standard_webhooks")} · ${c.response === "wait" ? "waits for respond" : "202 at once"}${c.path ? ` · /${String(c.path)}` : ""}`);
