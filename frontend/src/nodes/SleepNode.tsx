// Sleep: for how long (durable: the instance holds no worker meanwhile).
import { nodeComponent, short } from "./BaseNode";

export const SleepNode = nodeComponent("☾", (c) => (c.duration !== undefined ? `for ${short(typeof c.duration === "number" ? `${c.duration} ms` : c.duration)}` : "no duration yet"));
