// Wait for event: the event type, and its timeout when set.
import { nodeComponent, short } from "./BaseNode";

export const WaitEventNode = nodeComponent("✉", (c) =>
  (c.type ? short(`event ${String(c.type)}${c.timeout !== undefined ? ` · ${String(c.timeout)} max` : ""}${c.match ? " · matched" : ""}`) : "no event type yet"));
