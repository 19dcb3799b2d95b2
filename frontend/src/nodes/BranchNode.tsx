// If / else: its condition; true and false handles.
import { nodeComponent, short } from "./BaseNode";

export const BranchNode = nodeComponent("◇", (c) => (c.condition ? `if ${short(c.condition, 38)}` : "no condition yet"));
