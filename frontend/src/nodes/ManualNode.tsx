// Manual trigger: started from the editor's Run, the API or a parent workflow.
import { nodeComponent } from "./BaseNode";

export const ManualNode = nodeComponent("▶", () => "started by Run or the API");
