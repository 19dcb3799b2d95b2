// Approval: the message sent with the signed links; approved and rejected handles.
import { nodeComponent, short } from "./BaseNode";

export const ApprovalNode = nodeComponent("✓", (c) =>
  short(`${c.message ? String(c.message) : "asks for a decision"}${c.timeout !== undefined ? ` · ${String(c.timeout)}` : ""}`));
