// Fail: ends the instance with an error message.
import { nodeComponent, short } from "./BaseNode";

export const FailNode = nodeComponent("✕", (c) => (c.message ? short(c.message) : "no message yet"));
