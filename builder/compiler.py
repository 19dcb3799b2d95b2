"""Compiler: a valid graph -> one ES module `run(event, step)` that the engine runs unchanged.

Invariants:
- Deterministic: the same graph gives a byte-identical program (and hash) whatever the order of
  nodes and edges in the JSON; positions and labels other than comments do not matter.
- Readable: one block per node, in dependency order, commented with the node's id and type.
- Step names are node ids; inside a loop body, id[index] (nested: id[i][j]).
- The last line maps generated lines back to nodes and fields (builder.mapping, engine.sourcemap).
Every node runs as soon as its inputs settle, so branches fanned out from one node run in
parallel; a node whose incoming edges were all not taken is skipped, and so is what follows it.
"""
from __future__ import annotations

import json

from .graph import Graph, Node
from .mapping import with_map
from .nodes import CATALOG
from .structure import loop_owners

HEADER = """\
// Compiled by the builder from a workflow graph: edit the graph, not this program.
// Each node is a step named by its node id (in a loop body: id[index]).
import { NonRetryableError } from "cloudflare:workflows";

const SKIP = Symbol("skipped");
const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));

// Runs a node when its inputs have settled; it is skipped if none of its incoming edges was taken.
// inputs: [promise of the source's { value, handle }, the edge's source handle or null, source id]
function node(steps, id, inputs, merge, body) {
  return (async () => {
    const results = await Promise.all(inputs.map(([p]) => p));
    const taken = [];
    inputs.forEach(([, handle, source], k) => {
      const r = results[k];
      if (r !== SKIP && (handle === null || r.handle === handle)) taken.push([source, r.value]);
    });
    if (inputs.length && !taken.length) return SKIP;
    const input = merge ? Object.fromEntries(taken) : taken.length ? taken[0][1] : undefined;
    const out = await body(input);
    steps[id] = out.value;
    return out;
  })();
}

// The outputs of the nodes that end the flow: the value itself when there is one such node.
function outputs(steps, ids) {
  if (ids.length === 1) return steps[ids[0]] ?? null;
  return Object.fromEntries(ids.filter((id) => id in steps).map((id) => [id, steps[id]]));
}

// Runs fn over items with at most `limit` at a time; results in item order.
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
"""


class Compiler:
    def __init__(self, graph: Graph):
        self.graph = graph
        order = graph.topological()
        self.var = {node_id: f"n{i + 1}" for i, node_id in enumerate(order)}
        self.order = order
        self.owner = loop_owners(graph)
        self.depth = 0

    def spec(self, node: Node):
        return CATALOG[node.type]

    def step_name(self, node: Node) -> str:
        return json.dumps(node.id) if self.depth == 0 else f"{json.dumps(node.id)} + sfx"

    @staticmethod
    def indent(text: str, levels: int) -> str:
        pad = "  " * levels
        return "\n".join(pad + line if line.strip() else line for line in text.splitlines())

    def compile(self) -> str:
        top = [n for n in self.order if self.owner.get(n) is None]
        body = self.network(top, loop=None)
        return (
            HEADER + "\nexport default async function run(event, step) {\n"
            '  const steps = {};\n  const sfx = "";\n  const item = undefined, index = undefined;\n\n'
            + self.indent(body, 1) + "\n}\n"
        )

    def network(self, ids: list[str], loop: Node | None) -> str:
        """The nodes `ids` (one scope: top level or one loop body), each started as a promise."""
        blocks = []
        for node_id in ids:
            node = self.graph.nodes[node_id]
            spec = self.spec(node)
            inputs = []
            for e in sorted(self.graph.incoming(node_id), key=lambda e: (e.source, e.source_handle or "", e.id)):
                if loop is not None and e.source == loop.id:
                    inputs.append(f"[Promise.resolve({{ value: item }}), null, {json.dumps(e.source)}]")
                else:
                    handle = json.dumps(e.source_handle) if e.source_handle is not None else "null"
                    inputs.append(f"[{self.var[e.source]}, {handle}, {json.dumps(e.source)}]")
            label = node.data.get("label")
            comment = f"// {node_id} ({node.type})" + (f": {label}" if isinstance(label, str) and label else "")
            blocks.append(
                f"{comment.replace(chr(10), ' ')}\n"
                f"const {self.var[node_id]} = node(steps, {json.dumps(node_id)}, [{', '.join(inputs)}], "
                f"{'true' if spec.merges else 'false'}, async (input) => {{\n"
                f"{self.indent(spec.compile(node, self), 1)}\n}});"
            )
        # Where the flow ends: no outgoing edge (a loop's body edges lead into its body, not onward).
        ends = [n for n in ids if not [e for e in self.graph.outgoing(n) if not self.is_body_edge(e)]]
        blocks.append(
            f"await Promise.all([{', '.join(self.var[n] for n in ids)}]);\n"
            f"return outputs(steps, {json.dumps(ends)});"
        )
        return "\n\n".join(blocks)

    def is_body_edge(self, edge) -> bool:
        body = self.spec(self.graph.nodes[edge.source]).body_handle
        return body is not None and edge.source_handle == body

    def compile_body(self, loop: Node) -> str:
        """The body of a loop node, run per item with `item`, `index` and its own steps scope."""
        members = [n for n in self.order if self.owner.get(n) == loop.id]
        self.depth += 1
        try:
            inner = self.network(members, loop=loop)
        finally:
            self.depth -= 1
        return (
            "const outer = steps;\n"
            "return await (async (steps, sfx) => {\n"
            f"{self.indent(inner, 1)}\n"
            '})(Object.create(outer), sfx + "[" + index + "]");'
        )


def compile_graph(graph: Graph) -> str:
    """The program for a graph that validated without problems, ending with its map back to the
    graph's nodes and fields (builder.mapping), which the engine reads to name where an error was."""
    return with_map(Compiler(graph).compile(), graph)
