// HTTP request step: method and URL.
import { nodeComponent, short } from "./BaseNode";

export const HttpNode = nodeComponent("⇄", (c) => (c.url ? short(`${String(c.method ?? "GET")} ${String(c.url)}`) : "no URL yet"));
