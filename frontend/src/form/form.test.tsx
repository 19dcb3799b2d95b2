import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { CatalogEntry, JsonSchema } from "../api/client";
import { describeCron, Form } from "./Form";
import { formatDuration, mapToPairs, pairsToMap, parseDuration, widgetFor } from "./schema";

afterEach(cleanup);

// Shapes as served by /api/v1/catalog (builder/nodes/base.py).
const DURATION: JsonSchema = { description: "e.g. \"30 seconds\"", oneOf: [{ type: "string" }, { type: "integer" }] };
const RETRIES: JsonSchema = { type: "object", properties: { limit: { type: "integer" }, delay: DURATION, backoff: { enum: ["constant", "linear", "exponential"] } } };
const spec = (type: string, properties: Record<string, JsonSchema>, extra: Partial<CatalogEntry> = {}): CatalogEntry => ({
  type, label: type, group: "steps", description: "", trigger: false, step: true, handles: [], dynamic_handles: false, code_fields: [],
  schema: { properties: { ...properties, label: { type: "string" } }, required: [] }, ...extra,
});
const http = spec("http", {
  url: { type: "string" }, method: { enum: ["GET", "POST"], default: "GET" }, headers: { type: "object", additionalProperties: { type: "string" } },
  json: { description: "a JSON body" }, retries: RETRIES, timeout: DURATION,
});
const schedule = spec("schedule", { cron: { type: "string" }, timezone: { type: "string", default: "UTC" } }, { group: "triggers", trigger: true });
const code = spec("code", { code: { type: "string" }, retries: RETRIES, timeout: DURATION }, { code_fields: ["code"] });

describe("widget choice from the schema", () => {
  it("picks a widget per field shape", () => {
    const p = http.schema.properties!;
    expect(widgetFor("url", p.url, http)).toBe("expression");
    expect(widgetFor("method", p.method, http)).toBe("select");
    expect(widgetFor("headers", p.headers, http)).toBe("keyvalue");
    expect(widgetFor("json", p.json, http)).toBe("json");
    expect(widgetFor("retries", p.retries, http)).toBe("retries");
    expect(widgetFor("timeout", p.timeout, http)).toBe("duration");
    expect(widgetFor("label", p.label, http)).toBe("text");
    expect(widgetFor("label", p.label, http, "Hi {{ input.name }}")).toBe("expression");
    expect(widgetFor("cron", schedule.schema.properties!.cron, schedule)).toBe("cron");
    expect(widgetFor("code", code.schema.properties!.code, code)).toBe("code");
    const fields: JsonSchema = { type: "array", items: { type: "object", properties: { key: { type: "string" }, value: {} } } };
    expect(widgetFor("fields", fields, http)).toBe("pairs");
    const cases: JsonSchema = { type: "array", items: { type: "object", properties: { id: { type: "string" }, condition: { type: "string" } } } };
    expect(widgetFor("cases", cases, http)).toBe("cases");
  });
});

describe("durations as the engine reads them", () => {
  it("parses and formats", () => {
    expect(parseDuration("10 seconds")).toEqual({ amount: 10, unit: "seconds" });
    expect(parseDuration("1 minute")).toEqual({ amount: 1, unit: "minutes" });
    expect(parseDuration(5000)).toEqual({ amount: 5000, unit: "milliseconds" });
    expect(parseDuration("{{ input.wait }}")).toBeNull();
    expect(formatDuration(5, "minutes")).toBe("5 minutes");
    expect(formatDuration(1, "hours")).toBe("1 hour");
  });
});

describe("key/value lists", () => {
  it("converts rows and objects, leaving rows without a key out", () => {
    expect(mapToPairs({ a: "1", b: "2" })).toEqual([{ key: "a", value: "1" }, { key: "b", value: "2" }]);
    expect(pairsToMap([{ key: "a", value: "1" }, { key: " ", value: "x" }])).toEqual({ a: "1" });
    expect(pairsToMap([])).toBeUndefined();
  });
});

describe("cron preview", () => {
  it("describes five-field expressions and explains bad ones", () => {
    expect(describeCron("0 9 * * 1-5")).toEqual({ ok: true, text: expect.stringMatching(/09:00.*Monday through Friday/) });
    expect(describeCron("0 9 * *").ok).toBe(false);
    expect(describeCron("99 9 * * *").ok).toBe(false);
  });
});

describe("the schema-driven form", () => {
  it("edits headers as rows, a select, a duration and retries", () => {
    const onChange = vi.fn();
    const { rerender } = render(<Form nodeId="http_1" spec={http} config={{ url: "https://example.com" }} onChange={onChange} />);
    fireEvent.click(screen.getByRole("button", { name: "Add key" }));
    fireEvent.change(screen.getByLabelText("Headers key 1"), { target: { value: "accept" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "https://example.com", headers: { accept: "" } });
    fireEvent.change(screen.getByLabelText("Headers value 1"), { target: { value: "application/json" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "https://example.com", headers: { accept: "application/json" } });

    onChange.mockClear();
    fireEvent.change(screen.getByLabelText("Method"), { target: { value: "POST" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "https://example.com", method: "POST" });
    fireEvent.change(screen.getByLabelText("Timeout amount"), { target: { value: "5" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "https://example.com", timeout: "5 seconds" });

    // The unit select rewrites the value already there.
    rerender(<Form nodeId="http_1" spec={http} config={{ url: "u", timeout: "5 seconds" }} onChange={onChange} />);
    fireEvent.change(screen.getByLabelText("Timeout unit"), { target: { value: "minutes" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "u", timeout: "5 minutes" });

    fireEvent.change(screen.getByLabelText("Retry limit"), { target: { value: "3" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "u", timeout: "5 seconds", retries: { limit: 3 } });
    fireEvent.change(screen.getByLabelText("Backoff"), { target: { value: "linear" } });
    expect(onChange).toHaveBeenLastCalledWith({ url: "u", timeout: "5 seconds", retries: { backoff: "linear" } });
  });

  it("removes a field when its input is emptied (the type's default applies)", () => {
    const onChange = vi.fn();
    render(<Form nodeId="s" spec={schedule} config={{ cron: "0 9 * * 1-5", timezone: "Europe/Paris" }} onChange={onChange} />);
    expect(screen.getByText(/Monday through Friday/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Time zone"), { target: { value: "" } });
    expect(onChange).toHaveBeenLastCalledWith({ cron: "0 9 * * 1-5" });
  });

  it("shows read-only forms without editing controls", () => {
    render(<Form nodeId="h" spec={http} config={{ url: "u", headers: { a: "1" } }} onChange={() => {}} readOnly />);
    expect(screen.queryByRole("button", { name: "Add key" })).toBeNull();
    expect((screen.getByLabelText("Headers key 1") as HTMLInputElement).readOnly).toBe(true);
  });

  it("gives code nodes a labelled code editor", () => {
    render(<Form nodeId="code_1" spec={code} config={{ code: "return input;" }} onChange={() => {}} upstream={["start"]} />);
    const editor = screen.getByLabelText("Code");
    expect(editor.getAttribute("contenteditable")).toBe("true");
    expect(editor.textContent).toContain("return input;");
  });
});

describe("lists of pairs", () => {
  const transform = spec("transform", {
    fields: { type: "array", items: { type: "object", properties: { key: { type: "string" }, value: {} } } },
  });
  const switchSpec = spec("switch", {
    cases: { type: "array", items: { type: "object", properties: { id: { type: "string" }, condition: { type: "string" } } } },
  });

  it("edits transform fields as key/value rows", () => {
    const onChange = vi.fn();
    render(<Form nodeId="t" spec={transform} config={{ fields: [{ key: "total", value: "{{ input.a + input.b }}" }] }} onChange={onChange} />);
    expect((screen.getByLabelText("Fields value 1") as HTMLInputElement).value).toBe("{{ input.a + input.b }}");
    fireEvent.click(screen.getByRole("button", { name: "Add key" }));
    fireEvent.change(screen.getByLabelText("Fields key 2"), { target: { value: "n" } });
    expect(onChange).toHaveBeenLastCalledWith({ fields: [{ key: "total", value: "{{ input.a + input.b }}" }, { key: "n", value: "" }] });
    fireEvent.click(screen.getByRole("button", { name: "Remove Fields row 1" }));
    expect(onChange).toHaveBeenLastCalledWith({ fields: [{ key: "n", value: "" }] });
  });

  it("edits switch cases with an expression editor per condition", () => {
    const onChange = vi.fn();
    render(<Form nodeId="s" spec={switchSpec} config={{ cases: [{ id: "big", condition: "{{ input.n > 10 }}" }] }} onChange={onChange} upstream={["start"]} />);
    expect(screen.getByLabelText("Cases condition 1").textContent).toContain("{{ input.n > 10 }}");
    fireEvent.change(screen.getByLabelText("Cases id 1"), { target: { value: "large" } });
    expect(onChange).toHaveBeenLastCalledWith({ cases: [{ id: "large", condition: "{{ input.n > 10 }}" }] });
  });
});
