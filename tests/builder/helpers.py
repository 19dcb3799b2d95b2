"""Build graphs tersely in tests and run them through the real engine."""
import json

from builder.services import version_create_from_graph, workflow_create
from engine import services
from engine.models import Instance


def graph(nodes, edges):
    """nodes: [(id, type, data)], edges: [(source, target) or (source, target, handle)]."""
    return {
        "nodes": [{"id": i, "type": t, "position": {"x": 0, "y": 0}, "data": d} for i, t, d in nodes],
        "edges": [{"id": f"e{k}", "source": e[0], "target": e[1], **({"sourceHandle": e[2]} if len(e) > 2 else {})}
                  for k, e in enumerate(edges)],
    }


def publish(tenant, g, slug="wf"):
    wf = workflow_create(tenant=tenant, slug=slug)
    version_create_from_graph(workflow=wf, graph=g, publish=True)
    wf.refresh_from_db()
    return wf


def start(tenant, wf, params=None, id=None):
    return services.instance_create(tenant=tenant, workflow=wf, params=params, id=id)


def result(inst):
    inst = Instance.objects.get(pk=inst.pk)
    return inst.status, (json.loads(inst.output) if inst.output else inst.error)
