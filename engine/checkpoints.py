"""Checkpoint persistence: raw reads and writes of step and attempt rows on the advance's hot path.

Invariant: only the lease holder calls these, inside the transaction that re-checked its lease
and fencing token (engine.runner.Advance.commit); attempt rows carry that token.
Raw SQL because the ORM's per-object and per-value work costs more than the statements here.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from django.db import connection

from .models import Attempt, Instance, StepRecord
from .sandbox import StepState


def insert_steps(instance: Instance, steps: dict[tuple, dict], now: datetime) -> list[int]:
    """INSERT ... RETURNING id of new step rows in one statement (the ORM's bulk_create costs 4x more).
    Keys are (name, occurrence), or (name, occurrence, "rollback") for a step's rollback."""
    if not connection.features.can_return_rows_from_bulk_insert:
        objs = [StepRecord(tenant_id=instance.tenant_id, instance_id=instance.pk, name=key[0], occurrence=key[1],
                           rollback=len(key) == 3, **{"started_at": now, **fields}) for key, fields in steps.items()]
        StepRecord.objects.bulk_create(objs)
        return [o.pk for o in objs]
    ops = connection.ops
    instance_pk = Instance._meta.pk.get_db_prep_value(instance.pk, connection)
    json_or_none = lambda v: None if v is None else ops.adapt_json_value(v, None)  # noqa: E731
    params: list[Any] = []
    for key, f in steps.items():
        params += [
            instance.tenant_id, instance_pk, key[0], key[1], len(key) == 3, f["kind"], f["status"], f.get("attempts", 0),
            json_or_none(f.get("config")), f.get("output"), json_or_none(f.get("error")),
            ops.adapt_datetimefield_value(f.get("wake_at")), ops.adapt_datetimefield_value(f.get("started_at") or now),
            ops.adapt_datetimefield_value(f.get("finished_at")),
        ]
    columns = ("tenant_id, instance_id, name, occurrence, rollback, kind, status, attempts, config, output, error, wake_at,"
               " started_at, finished_at")
    row = "(" + ", ".join(["%s"] * 14) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {StepRecord._meta.db_table} ({columns}) VALUES {', '.join([row] * len(steps))} RETURNING id",
            params,
        )
        # SQLite and PostgreSQL return a multi-row VALUES' rows in order (Django's bulk_create relies on it too).
        return [r[0] for r in cursor.fetchall()]


def insert_attempts(instance: Instance, attempts: dict[tuple[int, int], dict], now: datetime, *, fence: int) -> None:
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {Attempt._meta.db_table} (tenant_id, step_id, number, status, error, started_at, finished_at, fence)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (instance.tenant_id, step_pk, number, a["status"],
                 None if a.get("error") is None else ops.adapt_json_value(a["error"], None),
                 ops.adapt_datetimefield_value(a.get("started_at") or now), ops.adapt_datetimefield_value(a.get("finished_at")),
                 fence)
                for (step_pk, number), a in attempts.items()
            ],
        )


def step_rows(instance_id: Any) -> list[tuple]:
    """An instance's step rows for replay, in the order they began (rollbacks last), read raw: the
    ORM's per-value converters (datetimes, JSON) cost more than the replay itself for instances
    with thousands of steps."""
    table = StepRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, name, occurrence, kind, status, attempts, wake_at, finished_at, output, error, config, rollback "
            # In the order the steps were first recorded: the record's order, which replay checks.
            f"FROM {table} WHERE instance_id = %s ORDER BY id",
            [Instance._meta.pk.get_db_prep_value(instance_id, connection)],
        )
        return cursor.fetchall()


def to_ms(value: Any) -> int | None:
    """A raw datetime column as epoch ms: SQLite returns ISO text (UTC), PostgreSQL a datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


def step_state(kind: str, status: str, attempts: int, wake: int | None, pk: int, config: Any, output: str | None) -> StepState:
    """The host's view of a stored step row, which the protocol checks commands against."""
    state = StepState(kind=kind, status=status, attempts=attempts, wake=wake, seq=pk)
    if kind == "wait" and status == StepRecord.Status.WAITING:
        state.type = (json.loads(config) if isinstance(config, str) else config or {}).get("type")
    elif kind == "do" and config and "rollback" in config:
        # The step registered a rollback (when it first started): what its handler will
        # receive, once it has completed (now, or in this advance after a retry).
        state.config = json.loads(config) if isinstance(config, str) else config
        state.output = output if status == StepRecord.Status.COMPLETE else None
    return state
