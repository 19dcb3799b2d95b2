"""Writes that start instances or start them again, for a workflow as the builder knows it: the
editor's Run (an instance of the saved draft) and the bulk restart of failed instances onto a newer
version. The engine's own operations (create, restart, ...) are engine.services; this layer adds
what needs graphs and versions.

Invariant: every instance is created or restarted through engine.services, never by writing rows.
"""
from __future__ import annotations

from builder.graph import parse
from builder.models import Workflow, WorkflowVersion
from builder.selectors import version_diff
from builder.services import draft_version
from builder.structure import scope, seed_kinds, upstream
from engine.models import Instance
from engine.seeding import instance_create_test
from engine.selectors import failed_step, instances_for, step_names
from engine.services import instance_restart
from tenants.errors import InvalidInput
from tenants.models import Tenant


def instances_restart_failed(*, tenant: Tenant, workflow: Workflow, version: WorkflowVersion | None = None,
                             limit: int = 1000) -> list:
    """Restart the workflow's errored instances on `version` (default: the published one), each from
    its failed step, or from the first step whose checkpoint the new version invalidates if earlier."""
    version = version or workflow.published_version
    if version is None or version.workflow_id != workflow.pk:
        raise InvalidInput("version", "no version of this workflow to restart on")
    restarted = []
    failed = instances_for(tenant=tenant).filter(workflow=workflow, status=Instance.Status.ERRORED)
    diffs: dict[int, set[str]] = {}  # per old version: its diff is the same for all its instances
    for instance in failed.select_related("version")[:limit]:
        valid = None
        if instance.version_id != version.pk:
            if instance.version_id not in diffs:
                diffs[instance.version_id] = set(version_diff(old=instance.version, new=version)["valid_checkpoints"])
            valid = diffs[instance.version_id]
        start = failed_step(instance=instance)
        if valid is not None:
            start = next((name for name in step_names(instance=instance) if name.split("[")[0] not in valid or name == start), None)
        restarted.append(instance_restart(tenant=tenant, instance_id=instance.pk, from_step=start, version=version))
    return restarted


def draft_instance_create(*, tenant: Tenant, workflow: Workflow, params: object = None, author=None,
                          delivery: dict | None = None, seeds: dict | None = None, stop_after: str | None = None):
    """Start a test instance of the workflow's saved draft without publishing it (the editor's Run,
    test of one node, run up to here), on `draft_version`. The published version, which webhooks,
    schedules and the API start, is left as it is.

    The draft's pinned nodes (those upstream of `stop_after` when given), and the nodes in `seeds` (the editor sends an earlier run's outputs
    of the nodes upstream of the one it tests), are seeded with that data instead of running
    (engine.seeding); with `stop_after` the instance ends after that node, and only that node and
    the nodes it needs run (its ancestors, with the bodies of their loops: builder.structure.scope):
    a branch of a fan-out that does not lead to it is parked, so its HTTP calls are not made. The
    node a test stops after always runs, pinned or not: that is what is being tested.

    A webhook trigger's instance gets what a real delivery gives, `{method, headers, query, body}`,
    with `params` as the body (or `delivery` as captured, for a listened-for test delivery), so code
    written as `input.body.amount` behaves the same in a test run and in production."""
    version = draft_version(workflow=workflow, author=author)
    if any(n.get("type") == "webhook" for n in (version.graph or {}).get("nodes", [])):
        params = test_delivery(params, delivery)
    graph = parse(version.graph or {})
    kinds = seed_kinds(graph)
    if seeds is not None and not isinstance(seeds, dict):
        raise InvalidInput("seeds", "seeds maps node ids to their outputs")
    for node_id in seeds or {}:
        if node_id not in kinds:
            raise InvalidInput("seeds", f"{node_id!r} is not a step of the draft that can take given data", node_id=node_id)
    if stop_after is not None and stop_after not in kinds:
        raise InvalidInput("stop_after", f"{stop_after!r} is not a step of the draft a test run can stop after", node_id=stop_after)
    # Pins of the nodes that run before the stop (all of them without one): a pinned node after
    # the stop would only show as done in a run that never reached it.
    wanted = upstream(graph, stop_after) if stop_after is not None else set(kinds)
    given = {k: v for k, v in (workflow.pins or {}).items() if k in kinds and k in wanted}
    given.update(seeds or {})
    given.pop(stop_after, None)
    return instance_create_test(tenant=tenant, workflow=workflow, params=params, version=version, seeds=given,
                                kinds={k: kinds[k] for k in given if kinds[k] != "do"}, stop_after=stop_after,
                                scope=scope(graph, stop_after) if stop_after is not None else None)


def test_delivery(body: object, delivery: dict | None = None) -> dict:
    """A webhook trigger's test payload in a real delivery's shape (triggers.webhooks.payload_of)."""
    d = delivery or {}
    headers = d.get("headers") if isinstance(d.get("headers"), dict) else {"content-type": "application/json"}
    return {"method": str(d.get("method") or "POST"), "headers": {str(k).lower(): str(v) for k, v in headers.items()},
            "query": d.get("query") if isinstance(d.get("query"), dict) else {},
            "body": d["body"] if "body" in d else body}
