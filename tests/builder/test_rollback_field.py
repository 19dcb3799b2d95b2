"""The code node's "On failure, undo with" field compiles to the step's rollback handler, which
the engine runs when the instance fails after the step completed."""
import json

from builder.compiler import compile_graph
from builder.graph import parse
from builder.services import version_create_from_graph, workflow_create
from engine import selectors, services
from engine.models import StepRecord


def node(id, type, data=None):
    return {"id": id, "type": type, "position": {"x": 0, "y": 0}, "data": data or {}}


GRAPH = {
    "nodes": [
        node("start", "manual"),
        node("reserve", "code", {"code": "return { sku: 'A-1', n: input.n };",
                                 "rollback": "console.log('released ' + output.sku + ' after ' + error.message);"}),
        node("ship", "code", {"code": "throw new NonRetryableError('no courier');", "retries": {"limit": 0}}),
    ],
    "edges": [{"id": "e1", "source": "start", "target": "reserve"}, {"id": "e2", "source": "reserve", "target": "ship"}],
}


def test_the_field_compiles_to_a_rollback_with_the_nodes_retries():
    program = compile_graph(parse(GRAPH))
    assert "rollback: async ({ ctx, output, error }) => {" in program
    assert "released ' + output.sku" in program
    assert program.count("rollback:") == 1  # ship has no undo


def test_a_drawn_workflow_rolls_back_a_completed_node(tenant, clock, drive):
    wf = workflow_create(tenant=tenant, slug="saga", draft=GRAPH)
    version_create_from_graph(workflow=wf, graph=GRAPH, publish=True)
    wf.refresh_from_db()
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"n": 2})
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.error["message"]) == ("errored", "no courier")
    logs = [e["message"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "log"]
    assert logs == ["released A-1 after no courier"]
    assert StepRecord.objects.get(instance=inst, name="reserve", rollback=True).status == "complete"
    assert json.loads(StepRecord.objects.get(instance=inst, name="reserve", rollback=False).output) == {"sku": "A-1", "n": 2}
