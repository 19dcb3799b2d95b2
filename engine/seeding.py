"""Test instances: partial runs of a program, seeded with given step results and an optional stop.

The editor tests one node with the data its upstream nodes produced before (or pinned test data),
and runs a workflow "up to here". Both are ordinary instances of the tenant, marked `test`:
- a seeded step is a StepRecord, complete, holding the given result, written in the transaction
  that creates the instance; the replay returns that result exactly as it returns any checkpoint,
  so a seeded step never runs (the engine's rule for a committed result);
- with `stop_after`, the runner ends the instance, complete with that step's result (or errored
  with its error), at the commit that makes the step final (engine.runner.Advance.commit);
- with a `scope` (the stop step and the steps it needs, which the builder knows from its graph),
  nothing else runs: the runtime parks a step outside it (never starts it, so its branch waits)
  and the host refuses to start one (engine.sandbox.protocol.Session.new_step), so no capability
  call of such a step happens, even in a branch of a fan-out that runs beside the stop's.

Invariants: seeded results are tenant data and pass the checks every step result passes: JSON, at
most MAX_OUTPUT_BYTES each (and MAX_SEED_BYTES together), and no value of one of the tenant's
secrets in any encoding the redactor knows (a checkpoint is stored and streamed: a secret must
never be put there, not even by its owner). Nothing is written unless every seed is accepted.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import transaction

from tenants.jsonbody import json_dumps_checked
from tenants.models import Secret, Tenant
from tenants.secrets import secret_value

from . import clock, progress
from .capabilities.secrets import Redactor
from .checkpoints import insert_steps
from .errors import InvalidInput, NotFound
from .models import Instance, StepRecord
from .services import instance_create

if TYPE_CHECKING:
    from builder.models import Workflow, WorkflowVersion

MAX_OUTPUT_BYTES = 1024 * 1024  # a step's result (engine.runner.MAX_OUTPUT_BYTES)
MAX_SEED_BYTES = 4 * 1024 * 1024
MAX_SEEDS = 500
MAX_NAME = 256
MAX_SCOPE = 10_000  # step names in a partial run's scope
E = progress.EventType



def _secret_values(tenant: Tenant) -> set[str]:
    values = set()
    for name in Secret.objects.filter(tenant=tenant).values_list("name", flat=True):
        try:
            values.add(secret_value(tenant_id=tenant.pk, name=name))
        except NotFound:  # not decryptable with the configured keys: nothing it could leak
            pass
    return values


def seeds_check(*, tenant: Tenant, seeds: Any, field: str = "seeds") -> dict[str, str]:
    """Step results given as test data, checked like step results: {step name: JSON text}.
    Raises InvalidInput naming the step (`node_id`) of the first result refused."""
    if seeds is None:
        return {}
    if not isinstance(seeds, dict):
        raise InvalidInput(field, f"{field} maps step names to their results")
    if len(seeds) > MAX_SEEDS:
        raise InvalidInput(field, f"at most {MAX_SEEDS} seeded steps")
    redactor = Redactor(_secret_values(tenant)) if seeds else None
    texts, total = {}, 0
    for name, value in seeds.items():
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
            raise InvalidInput(field, f"a step name is 1 to {MAX_NAME} characters")
        try:
            text = json_dumps_checked(value, f"{field}.{name}")
        except (TypeError, ValueError):
            raise InvalidInput(field, f"the result of {name!r} must be JSON", node_id=name) from None
        if len(text) > MAX_OUTPUT_BYTES:
            raise InvalidInput(field, f"the result of {name!r} is {len(text)} bytes of JSON, over the "
                                      f"{MAX_OUTPUT_BYTES} byte limit of a step's result", node_id=name)
        if redactor is not None and redactor.contains(text):
            raise InvalidInput(field, f"the result of {name!r} holds the value of one of the tenant's secrets: "
                                      "a step result is stored and streamed, a secret must not be", node_id=name)
        total += len(text)
        texts[name] = text
    if total > MAX_SEED_BYTES:
        raise InvalidInput(field, f"seeded results total {total} bytes, over {MAX_SEED_BYTES}")
    return texts


def instance_create_test(
    *, tenant: Tenant, workflow: Workflow, version: WorkflowVersion, params: Any = None,
    seeds: dict[str, Any] | None = None, kinds: dict[str, str] | None = None, stop_after: str | None = None,
    scope: Any = None,
) -> Instance:
    """A test instance of `version`: its steps named in `seeds` recorded as complete with the given
    results before it first runs (so they never run), ending after step `stop_after` if given.
    `kinds` says which seeded steps are sleeps or waits for events (default: `step.do`); a seeded
    sleep is over, a seeded wait took an event whose value is the seed. `scope` (only with
    `stop_after`): the names of the steps the run may start; the stop step and the seeded steps
    are always in it. A step named `name[...]` or `name.x` (a loop body's item, a node's second
    step) belongs to node `name`."""
    texts = seeds_check(tenant=tenant, seeds=seeds)
    kinds = kinds or {}
    for name, kind in kinds.items():
        if name not in texts or kind not in StepRecord.Kind.values:
            raise InvalidInput("kinds", f"kinds names seeded steps as one of {', '.join(StepRecord.Kind.values)}", str(name))
    if stop_after is not None:
        if not isinstance(stop_after, str) or not 1 <= len(stop_after) <= MAX_NAME:
            raise InvalidInput("stop_after", f"a step name is 1 to {MAX_NAME} characters")
        if stop_after in texts:
            raise InvalidInput("stop_after", f"step {stop_after!r} is seeded: it would not run", node_id=stop_after)
    names = scope_check(scope, stop_after, texts)
    now = clock.now()
    with transaction.atomic():
        # The instance and its seeds commit together: no worker can see one without the other.
        instance = instance_create(tenant=tenant, workflow=workflow, params=params, version=version)
        Instance.objects.filter(pk=instance.pk).update(test=True, stop_after=stop_after or "", scope=names)
        instance.test, instance.stop_after, instance.scope = True, stop_after or "", names
        if texts:
            insert_steps(instance, {
                (name, 1): {"kind": kinds.get(name, StepRecord.Kind.DO), "status": StepRecord.Status.COMPLETE,
                            "output": None if kinds.get(name) == StepRecord.Kind.SLEEP else text,
                            "wake_at": now if kinds.get(name) == StepRecord.Kind.SLEEP else None,
                            "config": {"seeded": True}, "started_at": now, "finished_at": now}
                for name, text in texts.items()
            }, now)
            # The live view shows them as done, marked seeded (they never ran: no attempt).
            progress.record(instance_id=instance.pk, tenant_id=tenant.pk, now=now, items=[
                (E.STEP_COMPLETED, name, None, {**progress.preview(text), "seeded": True}) for name, text in texts.items()
            ])
    return instance


def scope_check(scope: Any, stop_after: str | None, seeds: dict[str, str]) -> list[str] | None:
    """A partial run's scope as stored: sorted step names, with the stop step and the seeds."""
    if scope is None:
        return None
    if stop_after is None:
        raise InvalidInput("scope", "a scope needs stop_after: a whole run runs every step")
    if not isinstance(scope, (list, tuple, set, frozenset)) or len(scope) > MAX_SCOPE:
        raise InvalidInput("scope", f"scope is a list of at most {MAX_SCOPE} step names")
    for name in scope:
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
            raise InvalidInput("scope", f"a step name is 1 to {MAX_NAME} characters")
    return sorted({*scope, stop_after, *seeds})


def seeded(config: Any) -> bool:
    """Whether a step row's config (raw: JSON text on SQLite, decoded on PostgreSQL) marks a seeded
    result. The runner makes such rows of a test instance optional in the replay's recorded path:
    a pinned node downstream of steps that run is reached after them, not before."""
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return False
    return isinstance(config, dict) and config.get("seeded") is True



def stop_outcome(cmd: dict, stop_after: str) -> dict | None:
    """The outcome a test instance ends with when the runtime's command `cmd` makes its stop step
    (the first occurrence of `stop_after`) final: its result, or its error; None for any other."""
    if not stop_after or cmd.get("s") != stop_after or cmd.get("o") != 1:
        return None
    kind = cmd["t"]
    if kind in ("ok", "got"):
        return {"output": cmd["v"]}
    if kind == "timeout" or (kind == "fail" and cmd.get("final")):
        return {"error": cmd["e"]}
    return {"output": "null"} if kind == "slept" else None
