"""Validation: every problem of a graph at once, as [{node_id, field, code, message}], so the
editor can mark each node. Never raises, whatever the input."""
from __future__ import annotations

import jsonschema

from .expressions import expressions_in, referenced_steps, syntax_errors
from .graph import Graph, parse
from .nodes import CATALOG, CHECKS
from .structure import accepts_several_inputs, is_loop, loop_owners, loop_reach

VALIDATORS = {t: jsonschema.Draft202012Validator(spec.json_schema()) for t, spec in CATALOG.items()}


def issue(code: str, message: str, node_id: str | None = None, field: str | None = None) -> dict:
    return {"node_id": node_id, "field": field, "code": code, "message": message}


def validate(raw) -> tuple[Graph, list[dict]]:
    graph = parse(raw)
    problems = list(graph.problems)
    nodes = graph.nodes
    known = {n.id for n in nodes.values() if n.type in CATALOG}

    for n in nodes.values():
        if n.type not in CATALOG:
            problems.append(issue("unknown_type", f"unknown node type {n.type!r}", n.id, "type"))
            continue
        for err in sorted(VALIDATORS[n.type].iter_errors(n.data), key=lambda e: list(e.path)):
            where = "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.path)
            problems.append(issue("invalid_config", err.message, n.id, where))
        for field, message in CHECKS.get(n.type, lambda d: [])(n.data):
            problems.append(issue("invalid_config", message, n.id, f"data.{field}"))

    triggers = sorted(n.id for n in nodes.values() if n.type in CATALOG and CATALOG[n.type].trigger)
    if not triggers:
        problems.append(issue("no_trigger", "the workflow needs a trigger (manual, webhook or schedule)"))
    for extra in triggers[1:]:
        problems.append(issue("several_triggers", "a workflow has exactly one trigger", extra))

    seen_edges = set()
    for e in graph.edges:
        for end, field in ((e.source, "source"), (e.target, "target")):
            if end not in nodes:
                problems.append(issue("dangling_edge", f"edge {e.id} points to a missing node {end!r}", None, f"edges.{e.id}.{field}"))
        if e.source not in nodes or e.target not in nodes:
            continue
        key = (e.source, e.source_handle, e.target)
        if key in seen_edges:
            problems.append(issue("duplicate_edge", f"two edges join {e.source} and {e.target}", e.target, f"edges.{e.id}"))
        seen_edges.add(key)
        if e.source == e.target:
            problems.append(issue("cycle", "a node cannot connect to itself (use a loop node)", e.source))
        target, source = nodes[e.target], nodes[e.source]
        if target.type in CATALOG and CATALOG[target.type].trigger:
            problems.append(issue("edge_into_trigger", "nothing can connect into a trigger", e.target))
        if source.type in CATALOG:
            handles = CATALOG[source.type].output_handles(source.data)
            if e.source_handle not in handles and not (handles == (None,) and e.source_handle in ("", "out", "default")):
                shown = ", ".join(h for h in handles if h) or "its single output"
                problems.append(issue("invalid_handle", f"{e.source} has no output {e.source_handle!r} (use {shown})",
                                      e.source, f"edges.{e.id}.sourceHandle"))

    order = graph.topological()
    for node_id in sorted(set(nodes) - set(order)):
        problems.append(issue("cycle", "this node is on a cycle (repeat work with a loop node instead)", node_id))

    reachable: set[str] = set()
    stack = list(triggers[:1])
    while stack:
        n = stack.pop()
        if n not in reachable:
            reachable.add(n)
            stack.extend(e.target for e in graph.outgoing(n) if e.target in nodes)
    for node_id in sorted(set(nodes) - reachable) if triggers else []:  # no trigger: said once above
        if node_id in known and not (CATALOG[nodes[node_id].type].trigger):
            problems.append(issue("unreachable", "no path from the trigger reaches this node", node_id))

    owners = loop_owners(graph)
    for n in nodes.values():
        incoming = graph.incoming(n.id)
        if accepts_several_inputs(n) and len(incoming) < 2:
            problems.append(issue("merge_one_input", "a merge node needs at least two incoming branches", n.id))
        if not accepts_several_inputs(n) and len({(e.source, e.source_handle) for e in incoming}) > 1:
            problems.append(issue("several_inputs", "join branches with a merge node", n.id))
        if is_loop(n):
            body = loop_reach(graph, n.id)
            if not graph.outgoing(n.id, CATALOG[n.type].body_handle):
                problems.append(issue("empty_loop", "connect the loop's body handle to the nodes to repeat", n.id))
            for e in graph.edges:
                if e.source in body and e.target not in body and owners.get(e.source) == n.id:
                    problems.append(issue("loop_body_escape", "a loop body's nodes connect only to each other "
                                          "(continue after the loop from its done handle)", e.source))
        for e in incoming:  # an edge into a loop body from outside must be the loop's own body edge
            if owners.get(n.id) and owners.get(e.source) != owners.get(n.id) and e.source != owners.get(n.id):
                problems.append(issue("loop_body_entry", "a loop body is entered only through its loop's body handle", n.id))

    sources = []
    for n in nodes.values():
        if n.type not in CATALOG:
            continue
        spec = CATALOG[n.type]
        upstream = graph.ancestors(n.id)
        for field, value in sorted(n.data.items()):
            if field in spec.code_fields and isinstance(value, str):
                sources.append((f"{n.id}\x00data.{field}", "code", value))
                refs = referenced_steps(value)
            else:
                exprs = expressions_in(value)
                sources.extend((f"{n.id}\x00data.{field}", "expr", e) for e in exprs)
                refs = {r for e in exprs for r in referenced_steps(e)}
            for ref in sorted(refs - upstream):
                why = "is not a node" if ref not in nodes else "is not upstream of this node"
                problems.append(issue("bad_reference", f"steps.{ref} {why}", n.id, f"data.{field}"))
    for key, message in sorted(syntax_errors(sources).items()):
        node_id, field = key.split("\x00", 1)
        problems.append(issue("syntax_error", message, node_id, field))
    return graph, problems
