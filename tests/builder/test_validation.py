"""Validation finds every problem at once, names the node and field, and never raises."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.errors import GraphInvalid
from builder.services import version_create_from_graph, workflow_create
from builder.validation import validate

from .helpers import graph

T = ("start", "manual", {})


def codes(g):
    return sorted((p["code"], p["node_id"]) for p in validate(g)[1])


def test_a_valid_graph_has_no_problems():
    assert validate(graph([T, ("a", "code", {"code": "return 1;"})], [("start", "a")]))[1] == []


@pytest.mark.parametrize("g, expected", [
    (graph([("a", "code", {"code": "return 1;"})], []), [("no_trigger", None)]),
    (graph([T, ("t2", "webhook", {}), ("a", "code", {"code": "1"})], [("start", "a"), ("t2", "a")]),
     [("several_inputs", "a"), ("several_triggers", "t2")]),
    (graph([T, ("a", "nope", {})], [("start", "a")]), [("unknown_type", "a")]),
    (graph([T, ("a", "http", {"method": "FETCH"})], [("start", "a")]), [("invalid_config", "a"), ("invalid_config", "a")]),
    (graph([T, ("a", "code", {"code": "return 1;"})], [("start", "a"), ("a", "ghost")]), [("dangling_edge", None)]),
    (graph([T, ("a", "code", {"code": "return 1;"})], [("start", "a"), ("start", "a")]), [("duplicate_edge", "a")]),
    (graph([T, ("a", "code", {"code": "1"}), ("b", "code", {"code": "1"}), ("m", "merge", {})],
           [("start", "a"), ("a", "b"), ("b", "m"), ("m", "a")]),
     [("cycle", "a"), ("cycle", "b"), ("cycle", "m"), ("merge_one_input", "m"), ("several_inputs", "a")]),
    (graph([T, ("a", "code", {"code": "1"}), ("lost", "code", {"code": "1"})], [("start", "a")]), [("unreachable", "lost")]),
    (graph([T, ("a", "code", {"code": "1"}), ("m", "merge", {})], [("start", "a"), ("a", "m")]), [("merge_one_input", "m")]),
    (graph([T, ("a", "transform", {"fields": [{"key": "x", "value": "{{ input. }}"}]})], [("start", "a")]), [("syntax_error", "a")]),
    (graph([T, ("a", "code", {"code": "return (;"})], [("start", "a")]), [("syntax_error", "a")]),
    (graph([T, ("a", "code", {"code": "return steps.b;"}), ("b", "code", {"code": "1"})], [("start", "a"), ("a", "b")]),
     [("bad_reference", "a")]),
    (graph([T, ("a", "branch", {"condition": "{{ true }}"}), ("b", "code", {"code": "1"})], [("start", "a"), ("a", "b", "maybe")]),
     [("invalid_handle", "a")]),
    (graph([T, ("a", "code", {"code": "1"})], [("start", "a"), ("a", "start")]), [("cycle", "a"), ("cycle", "start"), ("edge_into_trigger", "start")]),
    (graph([T, ("each", "loop", {"items": "{{ [1] }}"})], [("start", "each")]), [("empty_loop", "each")]),
    (graph([("tick", "schedule", {"cron": "every day", "timezone": "Mars/Base"})], []),
     [("invalid_config", "tick"), ("invalid_config", "tick")]),
])
def test_each_problem_is_reported_on_its_node(g, expected):
    assert codes(g) == sorted(expected)


def test_problems_name_the_field():
    problems = validate(graph([T, ("a", "http", {"url": 5})], [("start", "a")]))[1]
    assert problems == [{"node_id": "a", "field": "data.url", "code": "invalid_config", "message": "5 is not of type 'string'"}]


def test_publishing_an_invalid_graph_lists_every_problem(tenant):
    wf = workflow_create(tenant=tenant, slug="bad")
    with pytest.raises(GraphInvalid) as e:
        version_create_from_graph(workflow=wf, graph=graph([("a", "nope", {}), ("b", "merge", {})], []))
    assert {p["code"] for p in e.value.problems} == {"no_trigger", "unknown_type", "merge_one_input"}


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                       lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSONISH, st.fixed_dictionaries({"nodes": st.lists(JSONISH | st.fixed_dictionaries({
    "id": st.text(max_size=3), "type": st.sampled_from(["code", "manual", "merge", "branch", "loop", "x"]), "data": JSONISH}),
    max_size=5), "edges": st.lists(JSONISH | st.fixed_dictionaries({"source": st.text(max_size=3), "target": st.text(max_size=3),
                                                                     "sourceHandle": st.text(max_size=5)}), max_size=5)})))
def test_random_graphs_yield_problems_never_exceptions(raw):
    _, problems = validate(raw)
    json.dumps(problems)
    for p in problems:
        assert set(p) == {"node_id", "field", "code", "message"}


@pytest.mark.parametrize("source, message", [
    ("{{ input.total > }}", "in {{ input.total > }}: the expression ends too early"),
    ("{{ f(1)) }}", "in {{ f(1)) }}: one closing ')' too many"),
    ("{{ f(1 }}", "in {{ f(1 }}: a '(' is never closed"),
])
def test_an_expression_error_names_the_users_expression_not_generated_code(source, message):
    g = graph([T, ("a", "transform", {"fields": [{"key": "x", "value": source}]})], [("start", "a")])
    problems = validate(g)[1]
    assert [p["code"] for p in problems] == ["syntax_error"] and problems[0]["message"].startswith(message)
