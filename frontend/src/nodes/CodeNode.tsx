// Code step: the first line of its JavaScript.
import { nodeComponent, short } from "./BaseNode";

export const CodeNode = nodeComponent("{}", (c) => short(c.code ?? "return input;"));
