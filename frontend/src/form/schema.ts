// Which widget edits which field of a node's config, read from the node catalog's JSON Schema
// (builder/nodes/*.py), and the value conversions those widgets need. Pure: unit-tested in
// form.test.tsx; the widgets themselves are in Form.tsx.
import type { CatalogEntry, JsonSchema } from "../api/client";

export type Widget =
  | "select" | "checkbox" | "number" | "text" | "code" | "expression" | "duration" | "cron"
  | "keyvalue" | "pairs" | "cases" | "retries" | "secret" | "json";

// String fields that hold `{{ }}` expressions more often than not (any string may hold one: a field
// whose value already contains "{{" gets the expression editor too).
const EXPRESSION_FIELDS = new Set(["condition", "items", "match", "url", "body", "message", "until"]);

export function widgetFor(name: string, schema: JsonSchema, spec: CatalogEntry, value?: unknown): Widget {
  if (spec.code_fields.includes(name)) return "code";
  if (name === "retries" && schema.type === "object") return "retries";
  if (name === "cron") return "cron";
  if (schema.enum) return "select";
  if (schema.format === "secret-name") return "secret";
  if (isDuration(schema)) return "duration";
  if (schema.type === "boolean") return "checkbox";
  if (schema.type === "integer" || schema.type === "number") return "number";
  if (schema.type === "object" && isStringMap(schema)) return "keyvalue";
  if (schema.type === "array" && itemKeys(schema).join() === "key,value") return "pairs";
  if (schema.type === "array" && itemKeys(schema).join() === "condition,id") return "cases";
  if (schema.type === "string") {
    const expressive = EXPRESSION_FIELDS.has(name) || (schema.description ?? "").includes("{{")
      || (typeof value === "string" && value.includes("{{"));
    return expressive ? "expression" : "text";
  }
  return "json";
}

/** The catalog's duration: a string like "10 seconds" or a number of milliseconds. */
export function isDuration(schema: JsonSchema): boolean {
  const kinds = (schema.oneOf ?? []).map((s) => s.type).sort().join();
  return kinds === "integer,string";
}

function isStringMap(schema: JsonSchema): boolean {
  const extra = schema.additionalProperties;
  return typeof extra === "object" && extra !== null && extra.type === "string" && !schema.properties;
}

function itemKeys(schema: JsonSchema): string[] {
  return Object.keys(schema.items?.properties ?? {}).sort();
}

// ---- durations: what the engine reads (engine/sandbox/prelude.js `duration`) -------------------
export const UNITS = ["milliseconds", "seconds", "minutes", "hours", "days", "weeks"] as const;
export type Unit = (typeof UNITS)[number];
const UNIT_MS: Record<Unit, number> = { milliseconds: 1, seconds: 1000, minutes: 60000, hours: 3600000, days: 86400000, weeks: 604800000 };

/** "10 seconds" / "1 minute" / 5000 (ms) -> amount and unit; null when it is not a plain duration. */
export function parseDuration(value: unknown): { amount: number; unit: Unit } | null {
  if (typeof value === "number" && Number.isFinite(value)) return { amount: value, unit: "milliseconds" };
  if (typeof value !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(value);
  if (!m) return null;
  const unit = UNITS.find((u) => u === `${m[2].toLowerCase()}s`);
  return unit ? { amount: Number(m[1]), unit } : null;
}

/** Amount and unit -> the string the engine reads ("1 minute", "10 seconds"). */
export function formatDuration(amount: number, unit: Unit): string {
  return `${amount} ${amount === 1 ? unit.slice(0, -1) : unit}`;
}

export function durationMs(value: unknown): number | null {
  const d = parseDuration(value);
  return d ? d.amount * UNIT_MS[d.unit] : null;
}

// ---- key/value lists ----------------------------------------------------------------------------
export type Pair = { key: string; value: string };

/** An object of strings (e.g. headers) as editable rows, in insertion order. */
export function mapToPairs(value: unknown): Pair[] {
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value as Record<string, unknown>).map(([key, v]) => ({ key, value: typeof v === "string" ? v : JSON.stringify(v) }));
}

/** Rows back to an object; rows without a key are kept out (they are still being typed). */
export function pairsToMap(pairs: Pair[]): Record<string, string> | undefined {
  const kept = pairs.filter((p) => p.key.trim());
  return kept.length ? Object.fromEntries(kept.map((p) => [p.key, p.value])) : undefined;
}
