// Merge: joins branches; waits for every branch that was taken.
import { nodeComponent } from "./BaseNode";

export const MergeNode = nodeComponent("⋈", () => "waits for every taken branch");
