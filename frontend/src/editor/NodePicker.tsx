// The searchable node picker opened by a "+" (on an output handle or an edge): type to filter,
// Enter takes the first match, Escape or a click outside closes it.
import { useEffect, useRef, useState } from "react";
import type { Catalog } from "../graph";

type Props = { catalog: Catalog; at: { x: number; y: number }; title: string; onPick: (type: string) => void; onClose: () => void };

export function NodePicker({ catalog, at, title, onPick, onClose }: Props) {
  const [filter, setFilter] = useState("");
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const outside = (e: MouseEvent) => { if (box.current && !box.current.contains(e.target as Node)) onClose(); };
    window.addEventListener("mousedown", outside);
    return () => window.removeEventListener("mousedown", outside);
  }, [onClose]);
  // Triggers start a workflow: nothing leads into them, so they are not offered here.
  const q = filter.trim().toLowerCase();
  const entries = Object.values(catalog).filter((c) => !c.trigger && (!q || `${c.label} ${c.type} ${c.description}`.toLowerCase().includes(q)));
  // Kept inside the window: opened near the "+", moved left or up when it would overflow.
  const left = Math.max(8, Math.min(at.x, window.innerWidth - 300)), top = Math.max(8, Math.min(at.y, window.innerHeight - 360));
  return (
    <div ref={box} className="node-picker" role="dialog" aria-label={title} style={{ left, top }}
         onKeyDown={(e) => { if (e.key === "Escape") onClose(); }}>
      <input autoFocus type="search" placeholder="Search nodes" aria-label="Search node types" value={filter}
             onChange={(e) => setFilter(e.target.value)}
             onKeyDown={(e) => { if (e.key === "Enter" && entries[0]) { e.preventDefault(); onPick(entries[0].type); } }} />
      <ul>
        {entries.map((c) => (
          <li key={c.type}><button className={`palette-item group-${c.group}`} title={c.description} onClick={() => onPick(c.type)}>{c.label}</button></li>
        ))}
        {entries.length === 0 && <li className="muted">No node type matches “{filter}”.</li>}
      </ul>
    </div>
  );
}
