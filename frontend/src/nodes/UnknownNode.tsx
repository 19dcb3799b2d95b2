// A node whose type the catalog does not know (e.g. an imported graph): shown so it can be deleted.
import { nodeComponent } from "./BaseNode";

export const UnknownNode = nodeComponent("?", () => "unknown node type");
