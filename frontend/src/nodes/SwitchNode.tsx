// Switch: one handle per case plus default.
import { nodeComponent, short } from "./BaseNode";

export const SwitchNode = nodeComponent("☰", (c) => {
  const cases = Array.isArray(c.cases) ? (c.cases as { id?: string }[]) : [];
  return cases.length ? short(`${cases.length} case(s): ${cases.map((x) => x.id).join(", ")}`) : "no cases yet";
});
