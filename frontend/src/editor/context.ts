// What canvas nodes and edges may ask of the editor (the "+" buttons); null where they are read-only
// (a version, a diff, the live view), so those draw no "+".
import { createContext } from "react";
import type { Point } from "./insert";

/** Where a picked node goes: after a node's output handle, or on an edge between its ends. */
export type Spot = { source: string; handle: string | null } | { edge: string };
export type EditorActions = { pick: (spot: Spot, at: Point) => void };

export const EditorContext = createContext<EditorActions | null>(null);
