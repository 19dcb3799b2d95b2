// Loop: what it iterates and how many items at a time; body and done handles.
import { nodeComponent, short } from "./BaseNode";

export const LoopNode = nodeComponent("↻", (c) =>
  (c.items ? `${short(c.items, 30)} · ${String(c.concurrency ?? 1)} at a time` : "no items yet"));
