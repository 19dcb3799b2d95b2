// The side panel: a form generated from the selected node type's JSON Schema.
import type { CatalogEntry, JsonSchema } from "./api/client";

type Props = { id: string; spec: CatalogEntry; config: Record<string, unknown>; onChange: (c: Record<string, unknown>) => void };

function Field({ name, schema, value, code, onChange }: { name: string; schema: JsonSchema; value: unknown; code: boolean;
                                                       onChange: (v: unknown) => void }) {
  const id = `field-${name}`;
  let input;
  if (schema.enum) {
    input = (
      <select id={id} value={String(value ?? schema.default ?? "")} onChange={(e) => onChange(e.target.value)}>
        <option value="">—</option>
        {schema.enum.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    );
  } else if (schema.type === "boolean") {
    input = <input id={id} type="checkbox" checked={Boolean(value ?? schema.default)} onChange={(e) => onChange(e.target.checked)} />;
  } else if (schema.type === "integer" || schema.type === "number") {
    input = <input id={id} type="number" value={value === undefined ? "" : String(value)}
                   onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />;
  } else if (schema.type === "string" || schema.oneOf) {
    input = code || name === "code"
      ? <textarea id={id} className="code" rows={8} spellCheck={false} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)} />
      : <input id={id} type="text" value={value === undefined ? "" : String(value)} onChange={(e) => onChange(e.target.value || undefined)} />;
  } else {
    input = <textarea id={id} rows={4} spellCheck={false} defaultValue={value === undefined ? "" : JSON.stringify(value, null, 1)}
                      onBlur={(e) => { try { onChange(e.target.value ? JSON.parse(e.target.value) : undefined); } catch { /* keep typing */ } }} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{name}</label>
      {input}
      {schema.description && <small>{schema.description}</small>}
    </div>
  );
}

export function Panel({ id, spec, config, onChange }: Props) {
  const props = spec.schema.properties ?? {};
  return (
    <aside className="panel" aria-label={`Configure ${id}`}>
      <h2>{spec.label} <code>{id}</code></h2>
      <p className="muted">{spec.description}</p>
      {Object.entries(props).map(([name, schema]) => (
        <Field key={name} name={name} schema={schema} value={config[name]} code={spec.code_fields.includes(name)}
               onChange={(v) => { const next = { ...config }; if (v === undefined) delete next[name]; else next[name] = v; onChange(next); }} />
      ))}
    </aside>
  );
}
