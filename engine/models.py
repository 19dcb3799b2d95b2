"""Durable state of running programs. The database is the source of truth.

Invariants:
- Only the worker holding an Instance's lease (`lease_owner`, with `due_at` as the lease's expiry)
  writes its StepRecords, Attempts and run status; other writers (pause, terminate, events) change
  only what a conditional UPDATE lets them, and the lease holder re-reads status at every commit.
- `due_at` is the instance's one Timer: when a queued instance may start, when a sleeping, retrying
  or waiting instance wakes, or when a running instance's lease expires (recovery). An instance with
  `due_at <= now` needs a worker; NULL means it needs none (paused or finished).
- A StepRecord with status `complete` or `errored` is final: its step never runs again for this
  instance (only restart deletes it).
- Progress event ids increase per instance in commit order: they are taken from
  Instance.last_event_id inside the writing transaction, which holds the instance row's lock.
"""
import os
import time
import uuid

from django.db import models


def new_id() -> uuid.UUID:
    """A new instance id: a UUID version 7 (RFC 9562) whose first 60 bits are the creation time
    (milliseconds, then the fraction of the millisecond in 12 bits: its "increased clock
    precision" method), then 62 random bits: unguessable, as a version 4 id. Ids made later sort
    later, so every index that leads with an instance id (its own, its steps', its progress rows')
    is appended to at its end and keeps its pages full; random ids split pages everywhere and
    leave them about 70% full. Ids of either version are equally valid."""
    ns = time.time_ns()
    ms, fraction = divmod(ns, 1_000_000)
    value = ((ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (fraction * 4096 // 1_000_000) << 64
             | 0x2 << 62 | int.from_bytes(os.urandom(8), "big") >> 2)
    return uuid.UUID(int=value)


class Instance(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        PAUSED = "paused"
        WAITING = "waiting"
        WAITING_FOR_PAUSE = "waitingForPause"
        ERRORED = "errored"
        TERMINATED = "terminated"
        COMPLETE = "complete"

    FINISHED = (Status.ERRORED, Status.TERMINATED, Status.COMPLETE)
    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED, Status.WAITING, Status.WAITING_FOR_PAUSE)

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # No single-column indexes on tenant and workflow: the composite indexes below lead with them.
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="instances", db_index=False)
    workflow = models.ForeignKey("builder.Workflow", on_delete=models.CASCADE, related_name="instances", db_index=False)
    version = models.ForeignKey("builder.WorkflowVersion", on_delete=models.PROTECT, related_name="instances")
    # The instance that started this one (a sub-workflow); it gets a `child:<id>` event when this ends.
    # Indexed only where set (instance_parent): most instances have no parent.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
                               db_index=False)
    # The caller-chosen id, unique per workflow; NULL when none was given (`public_key` then shows
    # the uuid's hex): most instances have none, and a NULL costs no bytes in the row or its indexes.
    key = models.CharField(max_length=64, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(null=True, blank=True)
    output = models.TextField(null=True, blank=True)  # JSON text, as the program returned it
    error = models.JSONField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    # The fencing token: raised by every claim. A commit names the token its lease was taken
    # with, so a worker whose lease was taken over (paused, partitioned) can commit nothing more.
    fence = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    # Event types a waiting instance is blocked on: only such an event wakes it early.
    wait_types = models.JSONField(null=True, blank=True)
    # Leases that expired since the last clean release: a program that keeps killing its worker
    # is replayed in trace mode, which pins the crash on one step.
    recoveries = models.PositiveIntegerField(default=0)
    # Paused because its tenant was suspended (unsuspending resumes exactly these).
    suspended = models.BooleanField(default=False)
    # A test instance (the editor's test runs: engine.seeding): its first steps may be seeded with
    # given results, and with `stop_after` it ends, complete with that step's result, as soon as
    # that step's result is final, instead of running on to the end of the program.
    test = models.BooleanField(default=False)
    stop_after = models.CharField(max_length=256, blank=True, default="")
    # A partial run's scope: the step names (node ids) it may run, the stop step and what it needs
    # (engine.seeding); a step outside it is parked, never started (the host refuses its start).
    # None: no restriction (a whole run).
    scope = models.JSONField(null=True, blank=True, default=None)
    # Its rollback phase, once begun (the program failed, or it was terminated with rollback):
    # {"reason": "errored" | "terminate", "error": {name, message}}. While set, the program is only
    # replayed to find its rollback handlers (engine.sandbox.undo); it ends errored or terminated.
    rollback = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Partial: the instances without a key (most) are not in it at all (engine.services.insert_new
        # names its condition in ON CONFLICT).
        constraints = [models.UniqueConstraint(fields=["workflow", "key"], condition=models.Q(key__isnull=False),
                                               name="instance_key_per_workflow")]
        indexes = [
            # Dispatch (engine.dispatch): every query reads a range of one of these, never a scan.
            # Finished and paused instances (due_at NULL) are not in them at all; sleeping ones sit
            # past `now`, outside every range a dispatch query reads.
            # - the due set in time order (the earliest timer; the pump's bounded count). Not with the
            #   tenant: a lane query could then read the due range filtering by tenant;
            models.Index(fields=["due_at"], condition=models.Q(due_at__isnull=False), name="instance_due"),
            # - one tenant's due instances, oldest first (its lane);
            models.Index(fields=["tenant", "due_at"], condition=models.Q(due_at__isnull=False), name="instance_tenant_due"),
            # - leased instances only (a worker is advancing them, or died doing so): expired leases
            #   are recovered first, and the concurrency cap counts a tenant's live leases.
            models.Index(fields=["tenant", "due_at"], condition=~models.Q(lease_owner=""), name="instance_leased"),
            models.Index(fields=["parent"], condition=models.Q(parent__isnull=False), name="instance_parent"),
            models.Index(fields=["tenant", "status", "created_at"], name="instance_tenant_status"),
            # The operator console lists instances newest first across tenants, filtered by tenant,
            # workflow or status, and finds them by key: one index per filter, ending in the order.
            models.Index(fields=["created_at"], name="instance_created"),
            models.Index(fields=["status", "created_at"], name="instance_status_created"),
            models.Index(fields=["tenant", "created_at"], name="instance_tenant_created"),
            models.Index(fields=["workflow", "created_at"], name="instance_workflow_created"),
            models.Index(fields=["key"], condition=models.Q(key__isnull=False), name="instance_key_given"),
            # The error-text filter reads only instances with an error, newest first (partial: the
            # instances without one cost nothing here).
            models.Index(fields=["created_at"], condition=models.Q(error__isnull=False), name="instance_error_created"),
        ]

    @property
    def public_key(self) -> str:
        """The instance's id as callers know it: the one they chose, else the uuid's hex."""
        return self.key or self.pk.hex

    def __str__(self) -> str:
        return f"{self.workflow_id}/{self.public_key}"


class TenantDue(models.Model):
    """A tenant that has, or will have, due work: when it is next to be served (engine.due_tenants).
    Kept by triggers on the instance table and by the dispatcher; never written by other code."""

    tenant = models.OneToOneField("tenants.Tenant", primary_key=True, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        # The dispatcher reads the first rows whose time has come: a bounded range, index-only.
        indexes = [models.Index(fields=["at", "tenant"], name="tenantdue_at")]


class StepRecord(models.Model):
    """One durable step of an instance: a `step.do`, a sleep or a wait, keyed by (name, occurrence)."""

    class Kind(models.TextChoices):
        DO = "do"
        SLEEP = "sleep"
        WAIT = "wait"

    class Status(models.TextChoices):
        RUNNING = "running"  # an attempt was in flight when this row was written
        RETRYING = "retrying"  # an attempt failed; the next is due at wake_at
        WAITING = "waiting"  # a sleep or a wait for an event, until wake_at
        COMPLETE = "complete"
        ERRORED = "errored"

    # Not indexed: every read goes through the instance (as ProgressEvent.tenant).
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    # Indexed by step_name_occurrence, which leads with it.
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="steps", db_index=False)
    name = models.CharField(max_length=256)
    occurrence = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=0)
    config = models.JSONField(null=True, blank=True)
    output = models.TextField(null=True, blank=True)  # JSON text
    error = models.JSONField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The rollback of step (name, occurrence): a durable step of its own (attempts, retries), run
    # in the instance's rollback phase; its output is always null.
    rollback = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "name", "occurrence", "rollback"], name="step_name_occurrence")
        ]


class Attempt(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETE = "complete"
        ERRORED = "errored"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    step = models.ForeignKey(StepRecord, on_delete=models.CASCADE, related_name="attempt_rows", db_index=False)
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices)
    error = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # The instance's fencing token under which this attempt was recorded (Instance.fence).
    fence = models.BigIntegerField(default=0)

    class Meta:
        # Also the index of `step` (it leads with it).
        constraints = [models.UniqueConstraint(fields=["step", "number"], name="attempt_number_per_step")]


class Event(models.Model):
    """An event sent to an instance. It waits in the inbox until a waitForEvent of its type takes it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="events", db_index=False)  # event_inbox
    type = models.CharField(max_length=128)
    payload = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    consumed_by = models.ForeignKey(
        StepRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="consumed_events"
    )

    class Meta:
        indexes = [models.Index(fields=["instance", "consumed_by"], name="event_inbox")]


class ProgressEvent(models.Model):
    """What happened to an instance, in order; the live view streams and replays these.

    A row holds the events one commit appended (up to engine.progress.PACK of them, packed by
    engine.progress.pack): ids `event_id - count + 1 .. event_id`, each with its kind, step,
    attempt, data and own time. Rows, not events, are what a sleeping instance pays for."""

    # Not indexed: every read goes through the instance (a tenant's deletion cascades by instance).
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    # Indexed by progress_event_id_per_instance, which leads with it.
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="progress", db_index=False)
    event_id = models.BigIntegerField()  # the row's last event id
    count = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField()  # when the first event happened, by the host's clock
    events = models.TextField()  # JSON: [[kind, step, attempt, data, microseconds after created_at], ...]
    lifecycle = models.BooleanField(default=False)  # holds a workflow_* event (the workflow stream)
    # Orders the workflow stream on PostgreSQL (engine.progress.TXID_SQL; 0 on SQLite, whose ids
    # are in commit order): it reads in (txid, id) order below the oldest running transaction, so
    # a row whose id was taken before another's but committed after it is never skipped.
    txid = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "event_id"], name="progress_event_id_per_instance")
        ]
        indexes = [
            # The workflow stream: rows with workflow_* events after a (txid, id) cursor.
            models.Index(fields=["txid", "id"], condition=models.Q(lifecycle=True), name="progress_lifecycle_stream"),
        ]


class WorkerHeartbeat(models.Model):
    """One engine worker process (embedded or Celery), as it last reported itself.

    Written by the worker at most every ENGINE_HEARTBEAT_SECONDS (engine.heartbeat), never per
    step; rows not seen for a while are pruned. The counters are the process's totals since start.
    """

    class Mode(models.TextChoices):
        EMBEDDED = "embedded"
        CELERY = "celery"

    name = models.CharField(max_length=128, unique=True)
    mode = models.CharField(max_length=8, choices=Mode.choices)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    instances_advanced = models.BigIntegerField(default=0)
    steps = models.BigIntegerField(default=0)
    recoveries = models.BigIntegerField(default=0)  # expired leases this worker took over
    # The per-process cache of program texts (engine.programs.program_text), by program hash.
    programs_cached = models.PositiveIntegerField(default=0)
    program_cache_bytes = models.BigIntegerField(default=0)
    program_hits = models.BigIntegerField(default=0)
    program_misses = models.BigIntegerField(default=0)
    program_evictions = models.BigIntegerField(default=0)
    # The pool of fresh sandbox contexts (engine.sandbox.runtime.ContextPool).
    contexts_ready = models.PositiveIntegerField(default=0)
    context_hits = models.BigIntegerField(default=0)
    context_misses = models.BigIntegerField(default=0)
    rss_bytes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class ActivityMinute(models.Model):
    """What every worker did in one UTC minute, summed: the dashboard's charts read the last 60 rows.

    Workers add their deltas with their heartbeat (so a killed worker loses at most one interval);
    retention adds what it deleted. Rows older than a day are pruned."""

    minute = models.DateTimeField(unique=True)
    advances = models.BigIntegerField(default=0)
    steps = models.BigIntegerField(default=0)
    recoveries = models.BigIntegerField(default=0)  # expired leases recovered (the worker died)
    lost_attempts = models.BigIntegerField(default=0)  # attempts failed with WorkerLostError
    purged = models.BigIntegerField(default=0)  # finished instances deleted by retention

    def __str__(self) -> str:
        return self.minute.isoformat()


class Snapshot(models.Model):
    """The guest memory of an instance's blocked program, kept so its next advance resumes it
    instead of replaying its whole record (engine.snapshots). Written in the transaction of the
    advance's final commit, keyed to the progress event that commit wrote last (`events`) and to
    what produced the image (`key`); anything else means a full replay. At most one per instance,
    only while it waits, and only for instances with a long record."""

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, primary_key=True, related_name="+")
    events = models.BigIntegerField()  # Instance.last_event_id as the writing commit left it
    key = models.CharField(max_length=32)  # digest of the guest, runtime, program and fixed init
    # The host's own view of the record at that commit (never the sandbox's): step count, the
    # clock a replay would have reached, the pending steps' states and row ids.
    state = models.JSONField()
    image = models.BinaryField()  # zlib of the memory pages that differ from a fresh context's


class StreamHorizon(models.Model):
    """Where the compacted part of the workflow stream ends (engine.compaction): lifecycle events
    at or before this (txid, row id, event id) position have been taken out of the stream. One row
    (pk 1)."""

    txid = models.BigIntegerField(default=0)
    row = models.BigIntegerField(default=0)
    event = models.BigIntegerField(default=0)  # the row's last lifecycle event
