// Sleep until: a date or an expression giving one.
import { nodeComponent, short } from "./BaseNode";

export const SleepUntilNode = nodeComponent("◷", (c) => (c.until ? `until ${short(c.until, 36)}` : "no date yet"));
