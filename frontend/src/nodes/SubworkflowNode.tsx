// Sub-workflow: the child workflow's slug, and whether this one waits for it.
import { nodeComponent, short } from "./BaseNode";

export const SubworkflowNode = nodeComponent("⤷", (c) =>
  (c.workflow ? short(`${String(c.workflow)} · ${c.wait === false ? "fire and forget" : "waits"}`) : "no workflow yet"));
