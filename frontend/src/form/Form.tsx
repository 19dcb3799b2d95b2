// The configuration form of a node, generated from its type's JSON Schema (see schema.ts for which
// widget edits which field). Every widget reports a whole new value for its field; `undefined`
// removes the field, so an emptied input falls back to the type's default instead of saving "".
import cronstrue from "cronstrue";
import { useState } from "react";
import type { CatalogEntry, JsonSchema } from "../api/client";
import { CodeEditor } from "../code/CodeEditor";
import { ExpressionPreview } from "./preview";
import { formatDuration, mapToPairs, pairsToMap, parseDuration, UNITS, widgetFor, type Pair, type Unit } from "./schema";

type Change = (v: unknown) => void;
type FieldProps = {
  id: string; name: string; schema: JsonSchema; value: unknown; onChange: Change; upstream: string[]; readOnly: boolean;
  secretNames?: Set<string> | null;
};

// The compile rules' defaults for waits (builder/nodes/approval.py, wait_event.py).
const WAIT_DEFAULTS: Record<string, string> = { approval: "7 days", wait_event: "24 hours" };
const LABELS: Record<string, string> = { url: "URL", json: "JSON body", cron: "Cron", timezone: "Time zone", type: "Event type" };

export function humanize(name: string): string {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A number and a unit, written as the engine reads it ("10 seconds"); free text for anything else. */
export function DurationInput({ id, value, onChange, label, readOnly }: { id: string; value: unknown; onChange: Change; label: string; readOnly?: boolean }) {
  const parsed = parseDuration(value);
  const [unit, setUnit] = useState<Unit>(parsed?.unit ?? "seconds");
  if (value !== undefined && value !== "" && !parsed) {  // e.g. a `{{ }}` expression: keep it as text
    return <input id={id} type="text" aria-label={label} value={String(value)} readOnly={readOnly} onChange={(e) => onChange(e.target.value || undefined)} />;
  }
  const shownUnit = parsed?.unit ?? unit;
  return (
    <span className="duration">
      <input id={id} type="number" min={0} aria-label={`${label} amount`} value={parsed ? parsed.amount : ""} readOnly={readOnly}
             onChange={(e) => onChange(e.target.value === "" ? undefined : (shownUnit === "milliseconds" ? Number(e.target.value) : formatDuration(Number(e.target.value), shownUnit)))} />
      <select aria-label={`${label} unit`} value={shownUnit} disabled={readOnly}
              onChange={(e) => { const u = e.target.value as Unit; setUnit(u); if (parsed) onChange(u === "milliseconds" ? parsed.amount : formatDuration(parsed.amount, u)); }}>
        {UNITS.map((u) => <option key={u} value={u}>{u}</option>)}
      </select>
    </span>
  );
}

/** Five-field cron with a human-readable preview (cronstrue), e.g. "At 09:00, Monday through Friday". */
export function describeCron(expr: string): { text: string; ok: boolean } {
  if (!expr.trim()) return { text: "five fields: minute hour day-of-month month day-of-week", ok: false };
  if (expr.trim().split(/\s+/).length !== 5) return { text: "a schedule has exactly five fields", ok: false };
  try {
    return { text: cronstrue.toString(expr, { throwExceptionOnParseError: true, use24HourTimeFormat: true }), ok: true };
  } catch (e) {
    return { text: `not a valid cron expression: ${String(e).replace(/^Error: /, "")}`, ok: false };
  }
}

function CronInput({ id, value, onChange, readOnly }: { id: string; value: unknown; onChange: Change; readOnly: boolean }) {
  const expr = typeof value === "string" ? value : "";
  const preview = describeCron(expr);
  return (
    <>
      <input id={id} type="text" value={expr} placeholder="0 9 * * 1-5" readOnly={readOnly} aria-describedby={`${id}-preview`}
             onChange={(e) => onChange(e.target.value || undefined)} />
      <output id={`${id}-preview`} className={preview.ok ? "cron-preview" : "cron-preview bad"}>{preview.text}</output>
    </>
  );
}

/** Editable rows of two columns; rows without a key are kept locally until they get one. */
function Rows({ id, rows, onRows, keyName, valueName, upstream, readOnly, label }: {
  id: string; rows: Pair[]; onRows: (rows: Pair[]) => void; keyName: string; valueName: string; upstream: string[]; readOnly: boolean; label: string;
}) {
  const set = (i: number, patch: Partial<Pair>) => onRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <div className="rows" id={id} role="group" aria-label={label}>
      {rows.map((r, i) => (
        <div className="row" key={i}>
          <input type="text" aria-label={`${label} ${keyName} ${i + 1}`} placeholder={keyName} value={r.key} readOnly={readOnly}
                 onChange={(e) => set(i, { key: e.target.value })} />
          {valueName === "condition"
            ? <CodeEditor kind="expression" label={`${label} ${valueName} ${i + 1}`} value={r.value} upstream={upstream} readOnly={readOnly}
                          placeholder="{{ input.total > 100 }}" onChange={(v) => set(i, { value: v })} />
            : <input type="text" aria-label={`${label} ${valueName} ${i + 1}`} placeholder={valueName} value={r.value} readOnly={readOnly}
                     onChange={(e) => set(i, { value: e.target.value })} />}
          {!readOnly && <button type="button" aria-label={`Remove ${label} row ${i + 1}`} onClick={() => onRows(rows.filter((_, j) => j !== i))}>×</button>}
        </div>
      ))}
      {!readOnly && <button type="button" onClick={() => onRows([...rows, { key: "", value: "" }])}>Add {keyName}</button>}
    </div>
  );
}

function KeyValueInput({ id, name, value, onChange, upstream, readOnly }: FieldProps) {
  const [rows, setRows] = useState<Pair[]>(() => mapToPairs(value));
  return <Rows id={id} label={humanize(name)} rows={rows} keyName="key" valueName="value" upstream={upstream} readOnly={readOnly}
               onRows={(r) => { setRows(r); onChange(pairsToMap(r)); }} />;
}

// Transform fields ([{key, value}]) and switch cases ([{id, condition}]) are lists of pairs too.
function ListInput({ id, name, value, onChange, upstream, readOnly, keyName, valueName }: FieldProps & { keyName: string; valueName: string }) {
  const [rows, setRows] = useState<Pair[]>(() => (Array.isArray(value) ? value : []).map((x: Record<string, unknown>) => ({
    key: String(x[keyName] ?? ""), value: typeof x[valueName] === "string" ? (x[valueName] as string) : x[valueName] === undefined ? "" : JSON.stringify(x[valueName]) })));
  const emit = (r: Pair[]) => {
    setRows(r);
    const kept = r.filter((p) => p.key.trim()).map((p) => ({ [keyName]: p.key, [valueName]: p.value }));
    onChange(kept.length ? kept : undefined);
  };
  return <Rows id={id} label={humanize(name)} rows={rows} keyName={keyName} valueName={valueName} upstream={upstream} readOnly={readOnly} onRows={emit} />;
}

function RetriesInput({ id, value, onChange, schema, readOnly }: FieldProps) {
  const r = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
  const set = (k: string, v: unknown) => {
    const next = { ...r };
    if (v === undefined || v === "") delete next[k]; else next[k] = v;
    onChange(Object.keys(next).length ? next : undefined);
  };
  const backoff = schema.properties?.backoff?.enum ?? ["constant", "linear", "exponential"];
  return (
    <fieldset className="retries" id={id}>
      <legend>Retries</legend>
      <label>Retry limit <input type="number" min={0} max={1000} value={r.limit === undefined ? "" : String(r.limit)} readOnly={readOnly}
                                onChange={(e) => set("limit", e.target.value === "" ? undefined : Number(e.target.value))} /></label>
      <div className="field-inline"><span>Delay</span>
        <DurationInput id={`${id}-delay`} label="Retry delay" value={r.delay} readOnly={readOnly} onChange={(v) => set("delay", v)} /></div>
      <label>Backoff <select value={String(r.backoff ?? "")} disabled={readOnly} onChange={(e) => set("backoff", e.target.value || undefined)}>
        <option value="">default</option>{backoff.map((b) => <option key={b} value={b}>{b}</option>)}</select></label>
      <small>Empty fields keep the engine's defaults (5 retries, 10 seconds, exponential; none for branch, switch, transform, respond).</small>
    </fieldset>
  );
}

function Field(props: FieldProps & { spec: CatalogEntry }) {
  const { id, name, schema, value, onChange, upstream, readOnly, spec } = props;
  const label = schema.title ?? humanize(name);  // the catalog's own title, when it gives one
  const widget = widgetFor(name, schema, spec, value);
  let input;
  switch (widget) {
    case "select":
      input = (
        <select id={id} value={String(value ?? "")} disabled={readOnly} onChange={(e) => onChange(e.target.value || undefined)}>
          <option value="">{schema.default !== undefined ? `default (${String(schema.default)})` : "—"}</option>
          {schema.enum!.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>);
      break;
    case "checkbox":
      input = <input id={id} type="checkbox" checked={Boolean(value ?? schema.default)} disabled={readOnly} onChange={(e) => onChange(e.target.checked)} />;
      break;
    case "number":
      input = <input id={id} type="number" min={schema.minimum} max={schema.maximum} value={value === undefined ? "" : String(value)} readOnly={readOnly}
                     placeholder={schema.default !== undefined ? String(schema.default) : undefined}
                     onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />;
      break;
    case "code":
      input = <CodeEditor id={id} kind="code" label={label} value={String(value ?? "")} upstream={upstream} readOnly={readOnly}
                          placeholder={String(schema.default ?? "")} onChange={(v) => onChange(v || undefined)} />;
      break;
    case "expression":
      input = (<>
        <CodeEditor id={id} kind="expression" label={label} value={String(value ?? "")} upstream={upstream} readOnly={readOnly}
                    placeholder="{{ input.value }}" onChange={(v) => onChange(v || undefined)} />
        <ExpressionPreview id={id} value={String(value ?? "")} />
      </>);
      break;
    case "duration":
      return (
        <div className="field"><label htmlFor={id}>{label}</label>
          <DurationInput id={id} label={label} value={value} onChange={onChange} readOnly={readOnly} />
          <small>{name === "timeout" && spec.schema.properties?.retries ? "Per attempt; empty: the engine's default (10 minutes)"
            : name === "timeout" ? `How long to wait at most; empty: ${WAIT_DEFAULTS[spec.type] ?? "the type's default"}` : "e.g. 30 seconds, 2 hours, 1 day"}</small></div>);
    case "cron":
      input = <CronInput id={id} value={value} onChange={onChange} readOnly={readOnly} />;
      break;
    case "keyvalue":
      input = <KeyValueInput {...props} />;
      break;
    case "pairs":
      input = <ListInput {...props} keyName="key" valueName="value" />;
      break;
    case "cases":
      input = <ListInput {...props} keyName="id" valueName="condition" />;
      break;
    case "retries":
      return <RetriesInput {...props} />;
    case "secret": {
      // The tenant's secret names to pick from (values are never sent to the browser).
      const chosen = typeof value === "string" && value ? value : String(schema.default ?? "");
      input = (
        <>
          <input id={id} type="text" list={`${id}-secrets`} value={value === undefined ? "" : String(value)} readOnly={readOnly}
                 placeholder={schema.default !== undefined ? String(schema.default) : undefined} onChange={(e) => onChange(e.target.value || undefined)} />
          <datalist id={`${id}-secrets`}>{[...(props.secretNames ?? [])].sort().map((n) => <option key={n} value={n} />)}</datalist>
          {props.secretNames && chosen && (props.secretNames.has(chosen)
            ? <small className="ok">✓ {chosen} is set</small>
            : <small className="error">{chosen} is not set</small>)}
        </>);
      break;
    }
    case "text":
      input = <input id={id} type="text" value={value === undefined ? "" : String(value)} readOnly={readOnly}
                     list={name === "timezone" ? "time-zones" : undefined}
                     placeholder={schema.default !== undefined ? String(schema.default) : undefined}
                     onChange={(e) => onChange(e.target.value || undefined)} />;
      break;
    default:
      input = <JsonInput id={id} value={value} onChange={onChange} readOnly={readOnly} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{label}{spec.schema.required?.includes(name) ? " *" : ""}</label>
      {input}
      {name === "timezone" && <TimeZones />}
      {schema.description && widget !== "cron" && <small>{schema.description}</small>}
    </div>
  );
}

/** IANA time zones the browser knows, offered while typing a schedule's zone (the server checks it). */
function TimeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return <datalist id="time-zones">{[...new Set(["UTC", ...zones])].map((z) => <option key={z} value={z} />)}</datalist>;
}

function JsonInput({ id, value, onChange, readOnly }: { id: string; value: unknown; onChange: Change; readOnly: boolean }) {
  const [error, setError] = useState("");
  return (
    <>
      <textarea id={id} rows={4} spellCheck={false} className="code" readOnly={readOnly} aria-invalid={Boolean(error)}
                defaultValue={value === undefined ? "" : JSON.stringify(value, null, 1)}
                onBlur={(e) => {
                  try { onChange(e.target.value.trim() ? JSON.parse(e.target.value) : undefined); setError(""); }
                  catch { setError("not JSON yet: the last valid value is kept"); }
                }} />
      {error && <small className="error" role="alert">{error}</small>}
    </>
  );
}

type FormProps = {
  nodeId: string; spec: CatalogEntry; config: Record<string, unknown>; onChange: (c: Record<string, unknown>) => void;
  upstream?: string[]; readOnly?: boolean; secretNames?: Set<string> | null;
};

/** Fields in schema order, label first, retries and timeout last (they apply to every step node). */
export function Form({ nodeId, spec, config, onChange, upstream = [], readOnly = false, secretNames = null }: FormProps) {
  const props = spec.schema.properties ?? {};
  const rank = (n: string) => (n === "label" ? -1 : n === "retries" || (n === "timeout" && "retries" in props) ? 1 : 0);
  const names = Object.keys(props).sort((a, b) => rank(a) - rank(b));
  return (
    <form className="node-form" onSubmit={(e) => e.preventDefault()} aria-label={`Configuration of ${nodeId}`}>
      {names.map((name) => (
        <Field key={`${nodeId}:${name}`} id={`field-${name}`} name={name} schema={props[name]} value={config[name]} spec={spec}
               upstream={upstream} readOnly={readOnly} secretNames={secretNames}
               onChange={(v) => { const next = { ...config }; if (v === undefined) delete next[name]; else next[name] = v; onChange(next); }} />
      ))}
    </form>
  );
}
