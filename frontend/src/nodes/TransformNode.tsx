// Transform step: the keys of the object it builds.
import { nodeComponent, short } from "./BaseNode";

export const TransformNode = nodeComponent("ƒ", (c) => {
  const fields = Array.isArray(c.fields) ? (c.fields as { key?: string }[]) : [];
  return fields.length ? short(`→ { ${fields.map((f) => f.key).join(", ")} }`) : "no fields yet";
});
