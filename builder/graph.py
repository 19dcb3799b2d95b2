"""The graph format (a public contract): React Flow's own JSON, so the editor saves what it draws.

    {"nodes": [{"id", "type", "position": {"x", "y"}, "data": {...config}}],
     "edges": [{"id", "source", "sourceHandle"?, "target", "targetHandle"?}]}

Node ids are step names. Positions are the editor's business: they never change the program.
This module only reads the JSON into plain objects and answers structural questions; it never
raises on bad input (validation reports every problem, see builder.validation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    data: dict


@dataclass(frozen=True)
class Edge:
    id: str
    source: str
    target: str
    source_handle: str | None = None


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # shape problems found while reading

    def incoming(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.target == node_id]

    def outgoing(self, node_id: str, handle: str | None = ...) -> list[Edge]:
        return [e for e in self.edges if e.source == node_id and (handle is ... or e.source_handle == handle)]

    def ancestors(self, node_id: str) -> set[str]:
        seen: set[str] = set()
        stack = [e.source for e in self.incoming(node_id)]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(e.source for e in self.incoming(n))
        return seen

    def topological(self, among: set[str] | None = None) -> list[str]:
        """Node ids in dependency order, ties broken by id (so JSON order never matters).
        Nodes on a cycle are left out (validation reports the cycle)."""
        ids = set(self.nodes) if among is None else among
        indegree = {n: 0 for n in ids}
        for e in self.edges:
            if e.source in ids and e.target in ids:
                indegree[e.target] += 1
        ready = sorted(n for n, d in indegree.items() if d == 0)
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for e in sorted(self.outgoing(n), key=lambda e: (e.target, e.id)):
                if e.target in indegree:
                    indegree[e.target] -= 1
                    if indegree[e.target] == 0:
                        ready.append(e.target)
                        ready.sort()
        return order


def parse(raw: Any) -> Graph:
    """Read graph JSON leniently; problems of shape are collected on the graph, not raised."""
    graph = Graph()

    def problem(code: str, message: str, node_id: str | None = None, field_: str | None = None) -> None:
        graph.problems.append({"node_id": node_id, "field": field_, "code": code, "message": message})

    if not isinstance(raw, dict):
        problem("invalid_graph", "the graph must be an object with nodes and edges")
        return graph
    nodes, edges = raw.get("nodes", []), raw.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        problem("invalid_graph", "nodes and edges must be lists", field_="nodes" if not isinstance(nodes, list) else "edges")
        return graph
    for i, n in enumerate(nodes):
        if not isinstance(n, dict) or not isinstance(n.get("id"), str) or not n.get("id"):
            problem("invalid_node", "a node needs a non-empty string id", field_=f"nodes[{i}]")
            continue
        if n["id"] in graph.nodes:
            problem("duplicate_node", f"two nodes have the id {n['id']}", n["id"], "id")
            continue
        data = n.get("data", {})
        if not isinstance(data, dict):
            problem("invalid_node", "data must be an object", n["id"], "data")
            data = {}
        graph.nodes[n["id"]] = Node(id=n["id"], type=str(n.get("type", "")), data=data)
    for i, e in enumerate(edges):
        if not isinstance(e, dict) or not isinstance(e.get("source"), str) or not isinstance(e.get("target"), str):
            problem("invalid_edge", "an edge needs string source and target", field_=f"edges[{i}]")
            continue
        handle = e.get("sourceHandle")
        graph.edges.append(Edge(id=str(e.get("id") or f"e{i}"), source=e["source"], target=e["target"],
                                source_handle=handle if isinstance(handle, str) else None))
    return graph
