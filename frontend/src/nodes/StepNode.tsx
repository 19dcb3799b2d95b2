// The canvas node: type icon, name and a one-line summary of its config, with its handles.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import type { CatalogEntry } from "../api/client";

export type StepData = { config: Record<string, unknown>; spec?: CatalogEntry; problems?: string[] };

const ICONS: Record<string, string> = { triggers: "▶", steps: "⚙", control: "⑂", durable: "⏳", end: "■" };

export function outputHandles(spec: CatalogEntry | undefined, config: Record<string, unknown>): (string | null)[] {
  if (!spec) return [null];
  if (spec.dynamic_handles) {
    const cases = (config.cases as { id?: string }[] | undefined) ?? [];
    return [...cases.map((c) => c.id ?? ""), "default"];
  }
  return spec.handles && spec.handles.length ? spec.handles : [null];
}

function summary(config: Record<string, unknown>): string {
  const first = Object.entries(config).find(([k, v]) => k !== "label" && typeof v === "string" && v);
  return first ? `${first[0]}: ${String(first[1]).slice(0, 40)}` : "";
}

export function StepNode({ id, data, selected }: NodeProps & { data: StepData }) {
  const spec = data.spec;
  const handles = outputHandles(spec, data.config);
  const bad = data.problems && data.problems.length > 0;
  return (
    <div className={`node${selected ? " selected" : ""}${bad ? " invalid" : ""}`} aria-label={`${spec?.label ?? "node"} ${id}`}
         title={bad ? data.problems!.join("\n") : spec?.description}>
      {!spec?.trigger && <Handle type="target" position={Position.Left} />}
      <div className="node-title"><span aria-hidden="true">{ICONS[spec?.group ?? "steps"]}</span> {String(data.config.label ?? id)}</div>
      <div className="node-type">{spec?.label ?? "unknown type"}</div>
      {summary(data.config) && <div className="node-summary">{summary(data.config)}</div>}
      {handles.map((h, i) => (
        <Handle key={h ?? "out"} id={h ?? undefined} type="source" position={Position.Right}
                style={{ top: `${((i + 1) * 100) / (handles.length + 1)}%` }} title={h ?? "out"}>
          {h && <span className="handle-label">{h}</span>}
        </Handle>
      ))}
    </div>
  );
}
