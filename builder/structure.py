"""Questions about a graph's structure that depend on what its node types are (loops and their
bodies), for validation and the compiler alike. Node behaviour comes from the node spec
(builder.nodes), never from type names.

Invariant: pure functions of a parsed graph; unknown node types are treated as plain nodes
(validation reports them).
"""
from __future__ import annotations

from .graph import Graph, Node
from .nodes import CATALOG


def is_loop(node: Node) -> bool:
    """Runs the nodes on one of its handles (its spec's body_handle) once per item."""
    spec = CATALOG.get(node.type)
    return spec is not None and spec.body_handle is not None


def accepts_several_inputs(node: Node) -> bool:
    spec = CATALOG.get(node.type)
    return spec is not None and spec.merges


def loop_reach(graph: Graph, loop_id: str) -> set[str]:
    """Nodes reachable from a loop's body handle: its body (with any nested loops' bodies)."""
    seen: set[str] = set()
    stack = [e.target for e in graph.outgoing(loop_id, CATALOG[graph.nodes[loop_id].type].body_handle)]
    while stack:
        n = stack.pop()
        if n not in seen and n != loop_id:
            seen.add(n)
            stack.extend(e.target for e in graph.outgoing(n))
    return seen


def loop_owners(graph: Graph) -> dict[str, str]:
    """node id -> the innermost loop whose body it is in."""
    reaches = {n.id: loop_reach(graph, n.id) for n in graph.nodes.values() if is_loop(n)}
    owners = {}
    for node_id in graph.nodes:
        holders = [loop for loop, reach in reaches.items() if node_id in reach]
        if holders:
            owners[node_id] = min(holders, key=lambda loop: len(reaches[loop]))
    return owners


def seed_kinds(graph: Graph) -> dict[str, str]:
    """node id -> the step kind a test run may seed for it (its spec's seed_kind), for the step nodes
    outside loop bodies (a body's steps are named per item, id[index], and run per item)."""
    owners = loop_owners(graph)
    kinds = {}
    for node in graph.nodes.values():
        spec = CATALOG.get(node.type)
        if spec is not None and spec.step and spec.seed_kind and node.id not in owners:
            kinds[node.id] = spec.seed_kind
    return kinds


def upstream(graph: Graph, node_id: str) -> set[str]:
    """The nodes from which `node_id` can be reached (its ancestors), without itself."""
    seen: set[str] = set()
    stack = [e.source for e in graph.incoming(node_id)]
    while stack:
        n = stack.pop()
        if n not in seen and n != node_id:
            seen.add(n)
            stack.extend(e.source for e in graph.incoming(n))
    return seen


def scope(graph: Graph, node_id: str) -> set[str]:
    """What a run "up to" `node_id` needs: the node, its ancestors and the bodies of the loops among
    them (a body's nodes have no edge to the loop's next node, but the loop waits for them)."""
    nodes = upstream(graph, node_id) | {node_id}
    for n in list(nodes):
        if is_loop(graph.nodes[n]):
            nodes |= loop_reach(graph, n)
    return nodes
