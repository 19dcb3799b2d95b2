// How to call a webhook trigger: its URL, its auth scheme, and a curl example that signs the request
// the way triggers/webhooks.py `verify` checks it (shell + openssl, copyable).
import { useState } from "react";

const SCHEMES: Record<string, string> = {
  none: "No authentication: anyone with the URL can start an instance. Send an Idempotency-Key to make retries safe.",
  bearer: "Authorization: Bearer <the secret's value>.",
  standard_webhooks: "Standard Webhooks: webhook-id, webhook-timestamp and webhook-signature (v1, base64 HMAC-SHA256 of id.timestamp.body with the whsec_ secret).",
  github: "GitHub: X-Hub-Signature-256 = sha256=<hex HMAC-SHA256 of the body>; X-GitHub-Delivery is the delivery id.",
  stripe: "Stripe: Stripe-Signature t=<unix time>,v1=<hex HMAC-SHA256 of t.body>, within 5 minutes.",
};

/** A shell snippet that sends `{"id": 42}` to the trigger, signed for its scheme. */
export function curlExample(url: string, scheme: string, secretName: string): string {
  const body = `BODY='{"id": 42}'`;
  const secret = `SECRET=...   # the value of the tenant secret ${secretName}`;
  const post = `curl -X POST ${url} \\\n  -H 'content-type: application/json'`;
  switch (scheme) {
    case "none":
      return `${body}\n${post} \\\n  -H 'idempotency-key: order-42' \\\n  -d "$BODY"`;
    case "bearer":
      return `${secret}\n${body}\n${post} \\\n  -H "authorization: Bearer $SECRET" \\\n  -H 'idempotency-key: order-42' \\\n  -d "$BODY"`;
    case "github":
      return `${secret}\n${body}\nSIG=$(printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')\n`
        + `${post} \\\n  -H "x-github-delivery: $(cat /proc/sys/kernel/random/uuid)" \\\n  -H "x-hub-signature-256: sha256=$SIG" \\\n  -d "$BODY"`;
    case "stripe":
      return `${secret}\nBODY='{"id": "evt_42"}'\nTS=$(date +%s)\nSIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')\n`
        + `${post} \\\n  -H "stripe-signature: t=$TS,v1=$SIG" \\\n  -d "$BODY"`;
    default:  // standard_webhooks
      return `SECRET=whsec_...   # the value of the tenant secret ${secretName}\n${body}\nID=msg_$(date +%s%N) TS=$(date +%s)\n`
        + `KEY=$(printf '%s' "\${SECRET#whsec_}" | base64 -d | od -An -v -tx1 | tr -d ' \\n')\n`
        + `SIG=$(printf '%s.%s.%s' "$ID" "$TS" "$BODY" | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY -binary | base64)\n`
        + `${post} \\\n  -H "webhook-id: $ID" -H "webhook-timestamp: $TS" \\\n  -H "webhook-signature: v1,$SIG" \\\n  -d "$BODY"`;
  }
}

export function WebhookHelp({ baseUrl, config }: { baseUrl: string; config: Record<string, unknown> }) {
  const [copied, setCopied] = useState("");
  const scheme = String(config.auth ?? "standard_webhooks");
  const secretName = String(config.secret_name ?? "WEBHOOK_SECRET");
  const url = config.path ? `${baseUrl}/${String(config.path).replace(/^\/+/, "")}` : baseUrl;
  const example = curlExample(url, scheme, secretName);
  const copy = async (text: string, what: string) => {
    try { await navigator.clipboard.writeText(text); setCopied(`${what} copied`); } catch { setCopied("select the text to copy it"); }
  };
  return (
    <section className="hook-help" aria-label="How to call this webhook">
      <details open>
      <summary><h3>Webhook URL</h3></summary>
      <div className="hook-url"><code>{url}</code> <button type="button" onClick={() => copy(url, "URL")} aria-label="Copy webhook URL">Copy</button></div>
      <p className="muted">{SCHEMES[scheme] ?? scheme}{scheme !== "none" ? ` The secret is the tenant secret named ${secretName}.` : ""}
        {config.response === "wait" ? " The caller waits for a respond node (bounded)." : " The answer is 202 with the instance id."}</p>
      <pre aria-label="curl example">{example}</pre>
      <button type="button" onClick={() => copy(example, "Example")}>Copy curl example</button> <span role="status" className="muted">{copied}</span>
      </details>
    </section>
  );
}
