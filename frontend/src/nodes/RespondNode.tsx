// Respond: the HTTP status given to a waiting webhook caller.
import { nodeComponent } from "./BaseNode";

export const RespondNode = nodeComponent("↩", (c) => `responds ${String(c.status ?? 200)}`);
