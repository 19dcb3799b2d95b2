// The nodeTypes registry: one component per node type of the catalog (builder/nodes/), plus unknown.
// Adding a node type: its module in builder/nodes/, a component file here, its line below.
import { ApprovalNode } from "./ApprovalNode";
import { BranchNode } from "./BranchNode";
import { CodeNode } from "./CodeNode";
import { FailNode } from "./FailNode";
import { HttpNode } from "./HttpNode";
import { LoopNode } from "./LoopNode";
import { ManualNode } from "./ManualNode";
import { MergeNode } from "./MergeNode";
import { RespondNode } from "./RespondNode";
import { ScheduleNode } from "./ScheduleNode";
import { SleepNode } from "./SleepNode";
import { SleepUntilNode } from "./SleepUntilNode";
import { SubworkflowNode } from "./SubworkflowNode";
import { SwitchNode } from "./SwitchNode";
import { TransformNode } from "./TransformNode";
import { UnknownNode } from "./UnknownNode";
import { WaitEventNode } from "./WaitEventNode";
import { WebhookNode } from "./WebhookNode";

export const nodeTypes = {
  manual: ManualNode, webhook: WebhookNode, schedule: ScheduleNode, code: CodeNode, http: HttpNode,
  transform: TransformNode, branch: BranchNode, switch: SwitchNode, merge: MergeNode, loop: LoopNode,
  sleep: SleepNode, sleep_until: SleepUntilNode, wait_event: WaitEventNode, approval: ApprovalNode,
  subworkflow: SubworkflowNode, respond: RespondNode, fail: FailNode, unknown: UnknownNode,
};
