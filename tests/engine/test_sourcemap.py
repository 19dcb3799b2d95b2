"""Errors name the tenant's source: the host translates stack frames when it stores an error.

Code-first programs: the line and column in the tenant's program. Drawn workflows: the node, the
config field and the line within it (from the map the compiler appends), never `program:59:56`."""
import json

from builder.compiler import compile_graph
from builder.validation import validate
from engine import sourcemap
from engine.models import Instance, StepRecord

from ..builder.helpers import graph, publish, start

CODE_FIRST = """\
export default async function run(event, step) {
  const order = await step.do("charge", { retries: { limit: 0 } }, async () => {
    const card = event.payload.card;
    if (!card.number) throw new Error("no card number");
    return card.number.length;
  });
  return order;
}
"""


def stored_error(inst, step):
    row = StepRecord.objects.get(instance=inst, name=step)
    return row.error if isinstance(row.error, dict) else json.loads(row.error)


def test_a_code_first_step_error_names_the_line_and_column_of_the_program(tenant, clock, drive, make_workflow):
    wf = make_workflow(CODE_FIRST)
    inst = start(tenant, wf, {"card": {}})
    drive()
    error = stored_error(inst, "charge")
    assert error["name"] == "Error"
    assert "program:" not in error["stack"]
    top = error["frames"][0]
    assert top["line"] == 4 and top["column"] >= 1  # the throw is line 4 of the tenant's program
    assert error["stack"].splitlines()[0] == f"    at (line 4, column {top['column']})"
    # The instance's own error (re-thrown into run) says the same, never the module's position.
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "errored" and "program:" not in json.dumps(inst.error)


def test_a_drawn_code_node_error_names_the_node_field_and_line(tenant, clock, drive):
    g = graph([("start", "manual", {}),
               ("shape", "code", {"code": "const a = input.x;\n\nif (!a.field) throw new Error('no field');", "retries": {"limit": 0}})],
              [("start", "shape")])
    inst = start(tenant, publish(tenant, g), {"x": {}})
    drive()
    error = stored_error(inst, "shape")
    assert error["message"] == "no field"
    assert error["frames"][0] == {"node": "shape", "field": "code", "line": 3, "column": error["frames"][0]["column"]}
    assert 1 <= error["frames"][0]["column"] <= len("if (!a.field) throw new Error('no field');")
    assert error["stack"].splitlines()[0] == f"    at (node shape, code line 3, column {error['frames'][0]['column']})"
    assert "program:" not in error["stack"]


def test_a_drawn_expression_error_names_its_field(tenant, clock, drive):
    g = graph([("start", "manual", {}),
               ("check", "branch", {"condition": "{{ JSON.parse(input.text) > 100 }}"}),
               ("done", "transform", {"fields": [{"key": "ok", "value": True}]})],
              [("start", "check"), ("check", "done", "true")])
    inst = start(tenant, publish(tenant, g), {"text": "{"})
    drive()
    error = stored_error(inst, "check")
    assert error["name"] == "SyntaxError"
    # The call site within `JSON.parse(input.text) > 100`: the field's line 1, at a column of the expression.
    assert error["frames"][0]["node"] == "check" and error["frames"][0]["field"] == "condition"
    assert error["frames"][0]["line"] == 1 and 4 <= error["frames"][0]["column"] <= 4 + len("JSON.parse(input.text) > 100")
    assert "program:" not in error["stack"]


def test_the_compiled_program_ends_with_its_map():
    g = graph([("start", "manual", {}), ("a", "code", {"code": "return 1;\nreturn 2;"}),
               ("b", "http", {"url": "https://x.example/{{ steps.a }}"})], [("start", "a"), ("a", "b")])
    parsed, problems = validate(g)
    assert problems == []
    program = compile_graph(parsed)
    ranges = sourcemap.ranges_of(program)
    code = next(r for r in ranges if r.node == "a" and r.field == "code")
    lines = program.split("\n")
    assert lines[code.start - 1].strip() == "return 1;" and lines[code.end - 1].strip() == "return 2;"
    url = next(r for r in ranges if r.node == "b" and r.field == "url")
    line = lines[url.start - 1]
    assert line[url.col_from - 1:url.col_to - 1] == "steps.a"
    # Column 1 of the expression in the field ("https://x.example/{{ steps.a }}" has it at column 22).
    assert sourcemap.place(ranges, url.start, url.col_from) == {"node": "b", "field": "url", "line": 1, "column": 22}


def test_frames_from_the_sandbox_are_tenant_data_parsed_defensively():
    program = "export default async function run() {}\n"
    hostile = {"name": "Error", "message": "x", "stack": "\n".join(
        ["    at f (program:99999999:1)", "    at (evil) (program:1:1)", "garbage", "    at g (program:3:7)"] * 20)}
    out = sourcemap.locate(hostile, program)
    assert len(out["frames"]) <= sourcemap.MAX_FRAMES
    assert all(f.get("line", 0) < 10**7 for f in out["frames"])
    assert {"function": "g", "line": 3, "column": 7} in out["frames"]
    # A forged or broken map is no map: frames fall back to lines and columns.
    forged = program + '//# workflow-map={"v":1,"ranges":[[1,1,"",null,1,0,0,0]]}\n'
    assert sourcemap.ranges_of(forged) is None


def test_an_error_quickjs_places_at_its_function_start_names_the_field(tenant, clock, drive):
    # QuickJS reports a TypeError on a property read at the start of the enclosing function: for a
    # code node that is its wrapper, which still names the node and field (no line).
    g = graph([("start", "manual", {}),
               ("shape", "code", {"code": "return input.x.y.z;", "retries": {"limit": 0}})], [("start", "shape")])
    inst = start(tenant, publish(tenant, g), {})
    drive()
    error = stored_error(inst, "shape")
    assert error["name"] == "TypeError"
    assert error["frames"][0]["node"] == "shape" and "program:" not in error["stack"]


def test_a_code_first_program_may_not_carry_a_map(tenant):
    import pytest

    from builder.errors import ProgramInvalid
    from builder.services import version_create_from_code, workflow_create
    from tenants.errors import InvalidInput

    wf = workflow_create(tenant=tenant, slug="forged")
    with pytest.raises((InvalidInput, ProgramInvalid)):
        version_create_from_code(workflow=wf, program='export default async function run() {}\n'
                                 '//# workflow-map={"v":1,"ranges":[[1,1,"x",null,1,0,0,0]]}\n')
