import { expect, it } from "vitest";
import { backoff } from "./socket";

it("backs off from a quarter second to five seconds, with jitter", () => {
  for (let i = 0; i < 50; i++) {
    const first = backoff(0);
    expect(first).toBeGreaterThanOrEqual(125);
    expect(first).toBeLessThanOrEqual(250);
    const late = backoff(20);
    expect(late).toBeGreaterThanOrEqual(2500);
    expect(late).toBeLessThanOrEqual(5000);
  }
});
