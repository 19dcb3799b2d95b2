import { describe, expect, it } from "vitest";
import { checkCode, checkProgram, requiredArgs } from "./check";
import { completeAt, completeProgram } from "./completions";
import { CLASSES, STEP_API_DTS, TYPES, rootsOf, typeOfChain } from "./stepApi";

const labels = (r: { options: { label: string }[] } | null) => r?.options.map((o) => o.label) ?? null;

describe("the step API's declarations", () => {
  it("are read into every member they declare", () => {
    const step = TYPES.get("WorkflowStep")!;
    expect(step.members.map((m) => m.name)).toEqual(["do", "sleep", "sleepUntil", "waitForEvent", "http", "secret"]);
    // Each `name(` or `name?:`/`name:` line of an interface in the file is a member the reader saw.
    const declared = [...STEP_API_DTS.matchAll(/^ {2}([A-Za-z_$][\w$]*)\??(?:<[^>]*>)?[(:]/gm)].map((m) => m[1]);
    const seen = new Set([...TYPES.values()].flatMap((t) => t.members.map((m) => m.name)));
    expect(declared.filter((n) => n !== "constructor" && !seen.has(n))).toEqual([]);
    expect(TYPES.get("WorkflowStepContext.step")!.members.map((m) => m.name)).toEqual(["name", "count"]);
    expect(step.members.find((m) => m.name === "do")!.doc).toMatch(/memoized/);
    expect(CLASSES.map((c) => c.name)).toEqual(expect.arrayContaining(["NonRetryableError", "WaitTimeoutError", "HttpError"]));
  });
  it("type chains: ctx.step, ctx.config.retries, event.payload leaves the declarations", () => {
    const roots = rootsOf("export default async function run(ev, st) { await st.do('a', async (c) => c.attempt); }");
    expect(roots).toMatchObject({ ev: "WorkflowEvent", st: "WorkflowStep", c: "WorkflowStepContext" });
    expect(typeOfChain(["c", "step"], roots)?.name).toBe("WorkflowStepContext.step");
    expect(typeOfChain(["c", "config", "retries"], roots)?.name).toBe("WorkflowRetries");
    expect(typeOfChain(["ev", "payload"], roots)).toBeNull();
  });
});

describe("completion", () => {
  const program = "export default async function run(event, step) {\n  await step.do(\"a\", async (ctx) => ctx.attempt);\n}\n";
  it("offers step's members with their signatures", () => {
    const r = completeProgram("  await step.sl", program);
    expect(labels(r)).toEqual(["do", "sleep", "sleepUntil", "waitForEvent", "http", "secret"]);
    expect(r!.from).toBe("  await step.".length);
    expect(r!.options.find((o) => o.label === "waitForEvent")).toMatchObject({ detail: expect.stringContaining("type: string") });
  });
  it("offers ctx and ctx.step members, and error classes for a word", () => {
    expect(labels(completeProgram("ctx.", program))).toEqual(["attempt", "step", "config"]);
    expect(labels(completeProgram("ctx.step.", program))).toEqual(["name", "count"]);
    expect(labels(completeProgram("throw new NonR", program))).toContain("NonRetryableError");
  });
  it("in a code node: step members, and steps. as before", () => {
    expect(labels(completeAt("await step.h", [], "code"))).toContain("http");
    expect(labels(completeAt("steps.", ["a"], "code"))).toEqual(["a"]);
  });
});

describe("checking", () => {
  it("counts required arguments", () => {
    expect(requiredArgs("sleep(name: string, duration: WorkflowDuration): Promise<void>")).toBe(2);
    expect(requiredArgs("do<T>(name: string, callback: (ctx: WorkflowStepContext) => Promise<T> | T, options?: X): Promise<T>")).toBe(2);
    expect(requiredArgs("secret(name: string): Promise<string>")).toBe(1);
  });
  it("flags unknown members, too few arguments, syntax errors and a missing run", () => {
    const src = "export default async function run(event, step) {\n  await step.dox(\"a\");\n  await step.sleep(\"b\");\n}\n";
    const found = checkProgram(src);
    expect(found.map((d) => src.slice(d.from, d.to))).toEqual(["dox", "step.sleep(\"b\")"]);
    expect(found[0].message).toMatch(/WorkflowStep has no member dox/);
    expect(checkProgram("export default async function run(event, step) {\n  await step.do(\"a\", async () => {\n}")[0].message).toMatch(/Unexpected token/);
    expect(checkProgram("const x = 1;")[0].message).toMatch(/export default/);
    expect(checkProgram("export default async function run(event, step) {\n  await step.do(\"a\", async (ctx) => ctx.step.name);\n}\n")).toEqual([]);
  });
  it("checks a code node's body with its own positions", () => {
    const body = "const r = await step.htp({ url: 'https://x.example' });\nreturn r;";
    const found = checkCode(body);
    expect(found.map((d) => body.slice(d.from, d.to))).toEqual(["htp"]);
    expect(checkCode("return input +;")[0]).toMatchObject({ from: "return input +".length });
    expect(checkCode("return input;")).toEqual([]);
  });
});
