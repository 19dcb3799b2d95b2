import { describe, expect, it } from "vitest";
import { curlExample } from "./WebhookHelp";

describe("webhook curl examples", () => {
  const url = "http://127.0.0.1:8000/hooks/acme/orders";
  it("signs for each scheme with the headers the server checks", () => {
    expect(curlExample(url, "standard_webhooks", "HOOK")).toMatch(/webhook-id: \$ID[\s\S]*webhook-timestamp: \$TS[\s\S]*webhook-signature: v1,\$SIG/);
    expect(curlExample(url, "standard_webhooks", "HOOK")).toContain("tenant secret HOOK");
    expect(curlExample(url, "github", "GH")).toContain('x-hub-signature-256: sha256=$SIG');
    expect(curlExample(url, "stripe", "S")).toContain('stripe-signature: t=$TS,v1=$SIG');
    expect(curlExample(url, "bearer", "T")).toContain('authorization: Bearer $SECRET');
    expect(curlExample(url, "none", "X")).not.toContain("SECRET");
    for (const scheme of ["none", "bearer", "standard_webhooks", "github", "stripe"]) {
      expect(curlExample(url, scheme, "X")).toContain(`curl -X POST ${url}`);
    }
  });
});
