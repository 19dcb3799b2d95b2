"""Writes on instances: the operations of the engine contract (DESIGN.md, "Engine semantics").

Invariants:
- Every operation takes the tenant and reaches the instance through `selectors.instance_get`, so
  another tenant's id is "not found", never someone else's instance.
- Status changes are conditional UPDATEs on the status the operation expects: an operation that
  loses a race with a worker (or another operation) reports a conflict instead of overwriting.
- Making an instance due (`due_at = now`) is all it takes to get it run: dispatch.notify only
  hurries that along, so a lost message costs latency, never work.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction

from tenants.jsonbody import json_dumps_checked
from tenants.models import Tenant
from tenants.quotas import check_creations

from . import clock, dispatch, progress
from .errors import Conflict, InvalidInput, NotFound
from .models import Attempt, Event, Instance, Snapshot, StepRecord
from .selectors import failed_step, instance_get, stored_json

if TYPE_CHECKING:  # the engine runs any program: it stores a workflow and a version, never reads graphs
    from builder.models import Workflow, WorkflowVersion

S = Instance.Status
E = progress.EventType
KEY_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_-]{0,63}$")
MAX_BATCH = 100
MAX_PARAMS_BYTES = 1024 * 1024


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise InvalidInput("id", "an instance id is 1-64 letters, digits, '_' or '-', not starting with '-'")
    return key


def _check_size(value: Any, field: str) -> None:
    """Params and event payloads are loaded into the sandbox at every advance: bounded, like results.
    Checked iteratively first (depth, U+0000 that PostgreSQL's jsonb refuses, lone surrogates), so
    a depth bomb answers 422 instead of a RecursionError in json.dumps."""
    try:
        size = len(json_dumps_checked(value, field))
    except (TypeError, ValueError):
        raise InvalidInput(field, f"{field} must be JSON") from None
    if size > MAX_PARAMS_BYTES:
        raise InvalidInput(field, f"{field} is {size} bytes of JSON, over the {MAX_PARAMS_BYTES} byte limit")


def instance_create_batch(
    *, tenant: Tenant, workflow: Workflow, items: list[dict[str, Any]], version: WorkflowVersion | None = None,
    parent: Instance | None = None,
) -> list[Instance]:
    """Create up to 100 instances of `workflow` ({"id"?, "params"?} each) on its published version.

    An id that already exists returns the existing instance, unchanged (creation is idempotent).
    """
    if workflow.tenant_id != tenant.pk:
        raise InvalidInput("workflow", "no such workflow")
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput("instances", f"a batch holds 1 to {MAX_BATCH} instances")
    version = version or workflow.published_version
    if version is None or version.workflow_id != workflow.pk:
        raise InvalidInput("workflow", "the workflow has no published version")
    keys = [_check_key(item.get("id")) for item in items]
    given = [k for k in keys if k is not None]
    if len(set(given)) != len(given):
        raise InvalidInput("id", "the same id appears twice in the batch")
    for item in items:
        _check_size(item.get("params"), "params")
    now = clock.now()
    check_creations(tenant, len(items), now=now)
    candidates = [
        Instance(
            tenant=tenant, workflow=workflow, version=version, key=key, params=item.get("params"),
            status=S.QUEUED, due_at=now, created_at=now, last_event_id=1,  # its workflow_queued event
            parent=parent,
        )
        for key, item in zip(keys, items)
    ]
    with transaction.atomic():
        created = insert_new(candidates)
        fresh = [i for i in candidates if i.pk in created]
        taken = {i.key for i in candidates if i.pk not in created}  # ids that existed: those instances
        existing = {i.key: i for i in Instance.objects.filter(workflow=workflow, key__in=taken)} if taken else {}
        progress.insert(tenant_id=tenant.pk, now=now, rows=[
            (Instance._meta.pk.get_db_prep_value(i.pk, connection), 1, [(E.WORKFLOW_QUEUED, None, None, None)], None)
            for i in fresh
        ])
        progress.notify_on_commit([i.pk for i in fresh], workflow_id=workflow.pk)
        dispatch.notify([i.pk for i in fresh])
    return [i if i.pk in created else existing[i.key] for i in candidates]


def insert_new(instances: list[Instance]) -> set[Any]:
    """INSERT the instances whose (workflow, key) is free, in one statement; returns their ids
    (an instance without a key is always new: NULLs never conflict).
    ON CONFLICT DO NOTHING makes a concurrent creation of the same id return that instance
    instead of failing (SQLite >= 3.35 and PostgreSQL both support it with RETURNING)."""
    if not connection.features.can_return_rows_from_bulk_insert:
        created = set()
        for instance in instances:
            try:
                with transaction.atomic():
                    instance.save(force_insert=True)
                created.add(instance.pk)
            except IntegrityError:
                pass
        return created
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the proxy costs a lookup per use
    fields = Instance._meta.concrete_fields
    columns = ", ".join(conn.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params = [f.get_db_prep_save(getattr(i, f.attname), conn) for i in instances for f in fields]
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Instance._meta.db_table} ({columns}) VALUES {', '.join([row] * len(instances))} "
            "ON CONFLICT (workflow_id, key) WHERE key IS NOT NULL DO NOTHING RETURNING id",
            params,
        )
        to_python = Instance._meta.pk.to_python
        return {to_python(r[0]) for r in cursor.fetchall()}


def instance_create(
    *, tenant: Tenant, workflow: Workflow, id: str | None = None, params: Any = None,
    version: WorkflowVersion | None = None, parent: Instance | None = None,
) -> Instance:
    return instance_create_batch(tenant=tenant, workflow=workflow, items=[{"id": id, "params": params}],
                                 version=version, parent=parent)[0]


def _transition(instance: Instance, *, allowed: tuple[str, ...], event: str | None, **fields: Any) -> None:
    now = clock.now()
    with transaction.atomic():
        if not Instance.objects.filter(pk=instance.pk, status__in=allowed).update(**fields):
            current = Instance.objects.filter(pk=instance.pk).values_list("status", flat=True).get()
            raise Conflict("status", f"the instance is {current}")
        if event:
            progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, now=now,
                            items=[(event, None, None, None)])
        if fields.get("due_at"):
            dispatch.notify([instance.pk])
    instance.refresh_from_db()


def instance_pause(*, tenant: Tenant, instance_id: Any) -> Instance:
    """Pause: at once if no worker holds it, else at the worker's next commit (waitingForPause)."""
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.status == S.PAUSED:
        return instance
    with transaction.atomic():
        if Instance.objects.filter(pk=instance.pk, status=S.RUNNING).update(status=S.WAITING_FOR_PAUSE):
            instance.refresh_from_db()
            return instance
        _transition(instance, allowed=(S.QUEUED, S.WAITING), event=E.WORKFLOW_PAUSED,
                    status=S.PAUSED, due_at=None, lease_owner="")
    return instance


def instance_resume(*, tenant: Tenant, instance_id: Any) -> Instance:
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.status == S.WAITING_FOR_PAUSE:
        # Still running: the pause request is simply withdrawn.
        _transition(instance, allowed=(S.WAITING_FOR_PAUSE,), event=None, status=S.RUNNING)
        return instance
    if instance.status in (S.QUEUED, S.RUNNING, S.WAITING):
        return instance
    # The replay recomputes every timer, so a paused instance just becomes due now.
    _transition(instance, allowed=(S.PAUSED,), event=E.WORKFLOW_QUEUED, status=S.QUEUED, due_at=clock.now())
    return instance


def instance_terminate(*, tenant: Tenant, instance_id: Any, rollback: bool = False) -> Instance:
    """Stop for good. A worker running it stops at its next commit and writes nothing more.

    With `rollback`, the rollback handlers of its completed steps run first (engine.rollbacks):
    its rollback phase begins (a worker running it stops at its next commit and requeues it), and
    it ends terminated once they are done. An instance already rolling back goes on as it was."""
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.status == S.TERMINATED:
        return instance
    if rollback:
        return _terminate_with_rollback(instance)
    with transaction.atomic():
        _transition(
            instance, allowed=(S.QUEUED, S.RUNNING, S.PAUSED, S.WAITING, S.WAITING_FOR_PAUSE),
            event=E.WORKFLOW_TERMINATED, status=S.TERMINATED, due_at=None, lease_owner="", finished_at=clock.now(),
        )
        Snapshot.objects.filter(instance_id=instance.pk).delete()  # it will never run again
        parent_notify(child=instance)
    return instance


def _terminate_with_rollback(instance: Instance) -> Instance:
    from .rollbacks import TERMINATE_ERROR

    marker = {"reason": "terminate", "error": TERMINATE_ERROR}
    now = clock.now()
    with transaction.atomic():
        active = Instance.objects.filter(pk=instance.pk, status__in=Instance.ACTIVE, rollback__isnull=True)
        # Not held by a worker: due now, queued (a paused one too: its rollbacks run).
        # The phase begins here (its mark and event in one transaction); the plan is the worker's.
        began = (E.ROLLBACKS_STARTED, None, None, marker)
        if active.filter(lease_owner="").update(rollback=marker, status=S.QUEUED, due_at=now):
            progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, now=now,
                            items=[began, (E.WORKFLOW_QUEUED, None, None, {"terminate": True, "rollback": True})])
            dispatch.notify([instance.pk])
        elif active.update(rollback=marker):  # running: its worker sees the mark at its next commit
            progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, now=now, items=[began])
        else:
            current = Instance.objects.filter(pk=instance.pk).values_list("status", "rollback").get()
            if current[1] is None:
                raise Conflict("status", f"the instance is {current[0]}")
    instance.refresh_from_db()
    return instance


def instance_lock(*, instance_id: Any) -> None:
    """Lock the instance row until the caller's transaction ends (writes that must not interleave,
    such as two decisions of one approval); the runner and retention lock it first too."""
    Instance.objects.select_for_update().filter(pk=instance_id).exists()


def parent_notify(*, child: Instance) -> None:
    """Tell a sub-workflow's parent that it ended: the event `child:<id>` (inside the caller's
    transaction, with the change of status, so the parent can never miss it)."""
    if child.parent_id is None:
        return
    now = clock.now()
    output = stored_json(child.output)
    Event.objects.create(tenant_id=child.tenant_id, instance_id=child.parent_id, type=f"child:{child.pk}",
                         payload={"status": child.status, "output": output, "error": child.error}, created_at=now)
    if Instance.objects.filter(pk=child.parent_id, status=S.WAITING, lease_owner="", due_at__gt=now).update(due_at=now):
        dispatch.notify([child.parent_id])


def instance_restart(*, tenant: Tenant, instance_id: Any, from_step: str | None = None,
                     version: WorkflowVersion | None = None) -> Instance:
    """Run again from the start, or from the first occurrence of step `from_step`.

    Restarting from a step keeps every checkpoint recorded before that step's first record and
    deletes it and everything after it; events those waits consumed go back to the inbox. With
    `version`, the instance moves to that version of its workflow (the caller checks, with the
    builder's diff, that the kept checkpoints are still valid there).
    A running worker loses its lease (its next commit fails) and writes nothing more.
    """
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    now = clock.now()
    with transaction.atomic():
        # The instance row first, as retention and the runner lock it: the same order everywhere
        # means a restart and a retention batch wait for each other instead of deadlocking.
        if not Instance.objects.select_for_update().filter(pk=instance.pk).exists():
            raise NotFound("instance", "no such instance")
        steps = StepRecord.objects.filter(instance=instance)
        if from_step is not None:
            first = steps.filter(name=from_step, rollback=False).order_by("pk").values_list("pk", flat=True).first()
            if first is None:
                raise InvalidInput("from", f"step {from_step!r} has no record in this instance")
            steps = steps.filter(pk__gte=first)
        Event.objects.filter(instance=instance, consumed_by__in=steps).update(consumed_by=None)
        Attempt.objects.filter(step__in=steps).delete()
        steps.delete()
        if version is not None and version.workflow_id != instance.workflow_id:
            raise InvalidInput("version", "the version belongs to another workflow")
        Instance.objects.filter(pk=instance.pk).update(
            status=S.QUEUED, due_at=now, lease_owner="", output=None, error=None, finished_at=None, recoveries=0,
            version=version or instance.version, rollback=None,
        )
        progress.record(instance_id=instance.pk, tenant_id=tenant.pk, now=now, items=[
            (E.WORKFLOW_QUEUED, None, None, {"restart": True, "from": from_step})
        ])
        dispatch.notify([instance.pk])
    instance.refresh_from_db()
    return instance


def event_send(*, tenant: Tenant, instance_id: Any, type: str, payload: Any = None) -> Event:
    """Put an event in the instance's inbox; a waiting instance wakes to take it.

    Events sent before the program waits stay in the inbox until a waitForEvent of their type
    takes them (oldest first); none is lost.
    """
    if not isinstance(type, str) or not 1 <= len(type) <= 128:
        raise InvalidInput("type", "an event type is a string of 1 to 128 characters")
    _check_size(payload, "payload")
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.status in Instance.FINISHED:
        raise Conflict("status", f"the instance is {instance.status}")
    now = clock.now()
    with transaction.atomic():
        event = Event.objects.create(tenant=tenant, instance=instance, type=type, payload=payload, created_at=now)
        # A running instance is not touched: its worker looks for new events before it releases.
        # A waiting one wakes only if it waits for this type (else it would replay for nothing).
        # (lease_owner="": a worker that claimed it but has not committed yet also looks again.)
        if type in (instance.wait_types or []) and Instance.objects.filter(
            pk=instance.pk, status=S.WAITING, lease_owner="", due_at__gt=now
        ).update(due_at=now):
            dispatch.notify([instance.pk])
    return event


def tenant_instances_suspend(*, tenant: Tenant) -> int:
    """Pause every active instance of a suspended tenant: at once if no worker holds it, else at the
    running worker's next commit. Marked `suspended`, so unsuspending resumes exactly these."""
    count = 0
    now = clock.now()
    with transaction.atomic():
        count += Instance.objects.filter(tenant=tenant, status=S.RUNNING).update(status=S.WAITING_FOR_PAUSE, suspended=True)
        idle = list(Instance.objects.filter(tenant=tenant, status__in=(S.QUEUED, S.WAITING)).values_list("pk", flat=True))
        for pk in idle:
            if Instance.objects.filter(pk=pk, status__in=(S.QUEUED, S.WAITING)).update(
                status=S.PAUSED, due_at=None, lease_owner="", suspended=True
            ):
                progress.record(instance_id=pk, tenant_id=tenant.pk, now=now, items=[(E.WORKFLOW_PAUSED, None, None, {"suspended": True})])
                count += 1
    return count


def tenant_instances_resume(*, tenant: Tenant) -> int:
    """Resume what suspension paused (and withdraw its pending pauses); nothing else."""
    count = 0
    now = clock.now()
    with transaction.atomic():
        count += Instance.objects.filter(tenant=tenant, status=S.WAITING_FOR_PAUSE, suspended=True).update(
            status=S.RUNNING, suspended=False)
        paused = list(Instance.objects.filter(tenant=tenant, status=S.PAUSED, suspended=True).values_list("pk", flat=True))
        for pk in paused:
            if Instance.objects.filter(pk=pk, status=S.PAUSED).update(status=S.QUEUED, due_at=now, suspended=False):
                progress.record(instance_id=pk, tenant_id=tenant.pk, now=now, items=[(E.WORKFLOW_QUEUED, None, None, {"unsuspended": True})])
                count += 1
        dispatch.notify(paused)
    return count


def instance_restart_failed(*, tenant: Tenant, instance_id: Any) -> Instance:
    """Restart an errored instance from its failed step (the first errored StepRecord), keeping
    every checkpoint before it; from the start if no step failed (the program itself threw)."""
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.status != S.ERRORED:
        raise Conflict("status", f"the instance is {instance.status}, not errored")
    return instance_restart(tenant=tenant, instance_id=instance.pk, from_step=failed_step(instance=instance))
