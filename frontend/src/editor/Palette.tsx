// The palette: node types by group, searchable; drag one onto the canvas (or onto an edge, which it
// splits), or click it (after the selected node when there is one).
import { useState } from "react";
import type { Catalog } from "../graph";

export const GROUPS = ["triggers", "steps", "control", "durable", "end"];
export const GROUP_COLOURS: Record<string, string> = { triggers: "#2e7d32", steps: "#2f6fed", control: "#8e24aa", durable: "#ef6c00", end: "#546e7a" };
export const NODE_TYPE_MIME = "application/x-node-type";

export function Palette({ catalog, disabled, onAdd }: { catalog: Catalog; disabled: boolean; onAdd: (type: string) => void }) {
  const [filter, setFilter] = useState("");
  const entries = Object.values(catalog).filter((c) => !filter || `${c.label} ${c.type} ${c.description}`.toLowerCase().includes(filter.toLowerCase()));
  return (
    <nav className="palette" aria-label="Node types">
      <input type="search" placeholder="Search nodes" aria-label="Search nodes" value={filter} onChange={(e) => setFilter(e.target.value)} />
      {entries.length === 0 && <p className="muted">No node type matches “{filter}”.</p>}
      {GROUPS.map((g) => (
        <section key={g} aria-label={g}>
          {entries.some((c) => c.group === g) && <h3>{g}</h3>}
          {entries.filter((c) => c.group === g).map((c) => (
            <button key={c.type} className={`palette-item group-${g}`} draggable title={c.description} disabled={disabled}
                    onDragStart={(e) => e.dataTransfer.setData(NODE_TYPE_MIME, c.type)}
                    onClick={() => onAdd(c.type)}>{c.label}</button>
          ))}
        </section>
      ))}
    </nav>
  );
}
