"""advance(): the one function every dispatch mode calls to move an instance forward.

An advance claims the instance (a lease), replays its program in a fresh sandbox with every
checkpoint preloaded (engine.loading) or resumes it from the image its last advance kept
(engine.snapshots), lets it run new steps until it finishes or blocks (sleep, wait, retry delay),
commits what the program reports in batches, and releases the lease with the next due time.

Invariants:
- Only the lease holder writes step rows; each batch re-checks the lease, its fencing token and the
  status inside its transaction, so a terminated instance or a lease taken over stops the program
  at its next commit and nothing it did after is written (engine.lease).
- Only what the host accepted is written or metered: every message from the sandbox passes the
  protocol (engine.sandbox.protocol); a refused one ends the instance with a ProtocolError.
- A capability call runs only while the worker's own clock says the lease is safely ahead. Calls of
  CONCURRENT capabilities run in threads beside the program (engine.calls), with the same checks;
  the advance waits for every one of them before it commits its end.
- A batch that follows a host capability call is committed before the program goes on, so a step
  with side effects is never lost once a later step has started (the prelude enforces the order).
- The release sets `due_at` to the earliest timer; an event sent while the program ran makes the
  instance due at once, so no wake-up is lost between the load and the release.
- The final commit stores the image of the blocked program, or deletes the one stored, in its own
  transaction (engine.snapshots): an image never outlives the record state it was taken at.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from tenants.limits import MAX_HTTP_CONCURRENCY, TenantLimits, limits_for

from . import clock, live, progress, rollbacks, snapshots, sourcemap
from .calls import Calls, reply_of
from .capabilities import CONCURRENT, Call, CapabilityError, registry
from .capabilities.secrets import Redactor
from .checkpoints import insert_attempts, insert_steps, to_ms
from .counters import COUNTERS
from .loading import Loading
from .lease import ACTIVE, MAX_RECOVERIES, Lease, LeaseLost, at_concurrency_cap, claim, recover  # noqa: F401
from .models import Attempt, Event, Instance, StepRecord
from .programs import program_text
from .metering import meter
from .seeding import stop_outcome
from .services import parent_notify
from .sandbox import Limits, ProgramLoadError, ProgramRun, ProtocolViolation, SandboxLimit, Session, clean

log = logging.getLogger(__name__)
MAX_OUTPUT_BYTES = 1024 * 1024
FLUSH_EVERY = 100  # commands buffered in the sandbox between commits of side-effect-free steps
MAX_LOGS_PER_ADVANCE = 1000
S = Instance.Status
E = progress.EventType
R = StepRecord.Status

# An advance that has run this long yields at its next commit and goes back in the queue, so one
# long program cannot hold a worker (or hit the sandbox time limit) however many steps it has.
SLICE_SECONDS = 10.0


@dataclass
class Advance(Loading):
    """The state of one advance: what is known of the instance's step rows, and the batch writer."""

    instance: Instance
    worker: str
    now: datetime
    plan: TenantLimits = None  # the tenant's plan limits (read at start)
    records: dict[tuple[str, int], dict] = field(default_factory=dict)  # (name, occ) -> {pk}
    max_event_id: int = 0
    lease_lost: bool = False
    pause: bool = False
    yielded: bool = False
    begun: bool = False  # whether this advance has committed (and so marked the instance running)
    sandbox: ProgramRun | None = None
    caps: dict[str, Any] = field(default_factory=registry)
    counters: dict[str, int] = field(default_factory=dict)  # capability calls this advance
    secrets: set[str] = field(default_factory=set)  # secret values read this advance, to redact
    metered: dict[str, int] = field(default_factory=dict)  # usage not yet written
    session: Session | None = None  # what the host accepted of the program's messages
    violation: ProtocolViolation | None = None  # the first message the host refused
    lease: Lease = field(default_factory=Lease)  # this worker's view of its lease (monotonic clock)
    # Attempts committed as started and not yet as finished: a slice yields only when there is none,
    # since stopping the program then would leave the attempt to be replayed as a lost one.
    open_attempts: set[tuple] = field(default_factory=set)
    # The instance was terminated with rollback while this advance ran the program: it stops at
    # its next commit and goes back in the queue, to be replayed in its rollback phase.
    stop_for_rollback: bool = False
    stop: dict | None = None  # a test instance's stop step's final outcome (engine.seeding)
    ended: bool = False  # the commit that ends a test instance at its stop was written
    # Snapshots (engine.snapshots): the clock a replay of the record reaches (None: not known),
    # whether the instance had a stored image, the image this advance keeps, whether it resumed.
    replay_clock: int | None = None
    had_image: bool = False
    image: bytes | None = None
    resumed: bool = False
    image_blocks: dict | None = None  # the restored image's blocks, by window (engine.sandbox.images)
    image_key: str | None = None  # engine.snapshots.key, once computed
    program: str = ""  # the workflow version's program text

    @property
    def sizes(self) -> tuple[int, int, int]:
        """A step result's bytes, commands per batch, log lines per advance (read at use: tests
        patch this module's constants)."""
        return MAX_OUTPUT_BYTES, FLUSH_EVERY, MAX_LOGS_PER_ADVANCE

    def __post_init__(self) -> None:
        if self.plan is None:
            self.plan = limits_for(self.instance.tenant)
        self.limits = Limits.from_plan(self.plan)
        # When each attempt began and ended, by the host's clock (rows of a batch are written later).
        self.times = live.AttemptTimes(self.instance.pk, clock.now)
        self.redact = Redactor(self.secrets)
        self.fence = self.instance.fence  # the token this advance's lease was claimed with
        self.calls = Calls(min(self.plan.http_concurrency, MAX_HTTP_CONCURRENCY))  # capability calls running beside the program

    # ---- writing ----------------------------------------------------------------------------------
    def host(self, text: str) -> dict:
        """The program's one host call: check the message, commit its batch, then answer it (perform
        a capability, set or clear a step's deadline, or say whether the heap was exhausted)."""
        if self.lease_lost or self.violation or self.ended:  # ended: a test instance's stop was reached
            return {"stop": True}
        entered = time.monotonic()
        try:
            message = self.session.message(text)
        except ProtocolViolation as e:
            self.violation = e
            return {"stop": True}
        if message.marks is not None:
            skip = self.times.record(message.marks)
            if message.marks_only:  # no commit, so no yield either (that waits for a commit)
                return {"stop": self.pause, "skip": skip}
        if message.deadline:
            self.sandbox.set_step_deadline(*message.deadline)
        if message.clear:
            self.sandbox.clear_step_deadline(message.clear)
        if message.cmds or message.cap or message.calls:
            try:
                self.commit(message.cmds)
            except LeaseLost:
                self.lease_lost = True
                return {"stop": True}
        if entered - self.started > SLICE_SECONDS:
            self.yielded = True
        # (ended: a test instance's stop was reached, so nothing after it runs)
        reply: dict[str, Any] = {"stop": self.pause or self.stop_for_rollback or self.ended or (self.yielded and not self.open_attempts)}
        if message.rollback is not None:
            reply["rollback"] = message.rollback
        if message.memory:
            reply["oom"] = self.sandbox.memory_exhausted()
        if message.occ is not None:
            reply["occ"] = message.occ
        if message.cap and not reply["stop"]:
            try:
                reply.update(self.capability(*message.cap))
            except LeaseLost:
                self.lease_lost = True
                return {"stop": True}
        if message.calls and not reply["stop"]:
            try:
                reply["calls"] = [self.capability(*call) for call in message.calls]
            except LeaseLost:
                self.lease_lost = True
                return {"stop": True}
        if self.sandbox:
            # The sandbox's time limit is for the program's own work, not the host's.
            self.sandbox.extend_deadline(time.monotonic() - entered)
        return reply

    def capability(self, name: str, args: Any, step: tuple[str, int, int] | None) -> dict:
        """Perform a capability call for the step the host knows to be in flight (if one is)."""
        self.lease.check()  # the batch before it was just committed; the lease must still be ahead
        counter = f"calls:{step}"
        self.counters[counter] = self.counters.get(counter, 0) + 1
        ident = f"{self.instance.pk}\x00{step[0]}\x00{step[1]}\x00{step[2]}" if step else f"{self.instance.pk}\x00*\x00{self.fence}"
        key = hashlib.sha256(f"{ident}\x00{self.counters[counter]}".encode("utf-8", "surrogatepass")).hexdigest()[:40]
        call = Call(tenant=self.instance.tenant, instance=self.instance, args=args, plan=self.plan,
                    step=step[0] if step else None, counters=self.counters, secrets=self.secrets,
                    idempotency_key=key, fence=self.lease.check)
        if name in CONCURRENT:
            return {"pending": self.calls.submit(name, lambda: self.caps[name](call))}
        known = len(self.secrets)
        try:
            result = json.loads(json.dumps(self.caps[name](call)))
            # A secret's value: the runtime refuses it in a step's result (the host redacts it anyway).
            return {"result": result, "secret": True} if len(self.secrets) > known else {"result": result}
        except CapabilityError as e:  # the calling step's failure, not ours
            return {"error": {"name": e.name, "message": str(e)[:4096]}}
        except LeaseLost:
            raise
        except Exception as e:
            log.exception("capability %s failed for instance %s", name, self.instance.pk)
            return {"error": {"name": "CapabilityError", "message": f"step.{name} failed ({type(e).__name__})"}}

    def commit(self, cmds: list[dict], *, begin_rollback: dict | None = None, **final: Any) -> str:
        """Write a batch of commands (and, with `final`, the instance's new state) in one transaction.
        With `begin_rollback` (the phase's reason and error), the instance's rollback phase begins.

        Returns "due" when the instance needs another advance at once, else "released"."""
        now = self.now
        began = time.monotonic()
        with transaction.atomic():
            row = (
                Instance.objects.select_for_update()
                .filter(pk=self.instance.pk, lease_owner=self.worker, fence=self.fence)
                .values_list("status", "last_event_id", "rollback")
                .first()
            )
            if row is None or row[0] not in ACTIVE:
                raise LeaseLost()  # terminated, restarted or paused while queued, or taken over (fenced)
            status, last_event_id, marker = row
            self.pause = status == S.WAITING_FOR_PAUSE
            if marker is not None and self.instance.rollback is None and begin_rollback is None:
                self.stop_for_rollback = True  # terminated with rollback while the program ran
            items: list[progress.Item] = []
            times: list[datetime | None] = []
            begin: dict[str, Any] = {}
            if not self.begun:
                # The advance's first commit: the instance is running from here on.
                if self.instance.started_at is None:
                    begin["started_at"] = now
                    items.append((E.WORKFLOW_STARTED, None, None, None))
                if status in (S.QUEUED, S.WAITING):
                    begin["status"] = S.RUNNING
            times += [None] * len(items)
            items.extend(self.apply(cmds, now, times))
            final = {"outcome": self.stop} if self.stop is not None else final  # a test's stop step is final: it ends here
            if begin_rollback is not None:
                begin["rollback"] = begin_rollback
                items.append((E.ROLLBACKS_STARTED, None, None, {
                    **begin_rollback, "steps": self.session.rollback_steps()}))
            ends = bool(final)
            if final:
                final = self.final_state(final, now)
                items.extend(final.pop("items"))
            else:
                final = {"due_at": clock.now() + timedelta(seconds=settings.ENGINE_LEASE_SECONDS)}
            # What ends here (the workflow, a wait) ends now, not at the advance's start.
            times += [clock.now()] * (len(items) - len(times))
            progress.record(instance_id=self.instance.pk, tenant_id=self.instance.tenant_id, items=items, now=now,
                            last_event_id=last_event_id, times=times, **{**begin, **final})
            meter(self, cmds, final)
            if ends:  # the image this advance keeps (or none), keyed to the events just written
                snapshots.keep(self, final.get("status"), events=last_event_id + len(items))
            if final.get("status") in Instance.FINISHED and self.instance.parent_id:
                self.instance.status, self.instance.output = final["status"], final.get("output")
                self.instance.error = final.get("error")
                parent_notify(child=self.instance)
            self.begun = True
            self.ended = self.stop is not None
        if "status" not in final:
            self.lease.renewed(began)  # this commit moved the lease's expiry (due_at) forward
        due = final.get("due_at")
        return "due" if due is not None and due <= now and "status" in final else "released"

    def apply(self, cmds: list[dict], now: datetime, times: list[datetime | None]) -> list[progress.Item]:
        """Turn the program's commands into step and attempt rows; returns the progress events
        (and appends when each happened to `times`: the host's marks for attempts; other commands
        take the time of the mark before them, or the batch's commit).

        A step started and finished in the same batch becomes one INSERT of its final state."""
        new: dict[tuple[str, int], dict] = {}  # steps first recorded in this batch
        changed: dict[tuple[str, int], dict] = {}  # fields of steps recorded earlier
        attempts_new: dict[tuple[tuple[str, int], int], dict] = {}
        attempts_changed: dict[tuple[tuple[str, int], int], dict] = {}
        consumed: list[tuple[int, tuple[str, int]]] = []
        items: list[progress.Item] = []

        def update(key: tuple[str, int], **fields: Any) -> None:
            (new[key] if key in new else changed.setdefault(key, {})).update(fields)

        def update_attempt(key: tuple[str, int], number: int, **fields: Any) -> None:
            k = (key, number)
            (attempts_new[k] if k in attempts_new else attempts_changed.setdefault(k, {})).update(fields)

        # Commands without a mark take the time of the one before (across batches: the last known;
        # before the first, the advance's start).
        at = self.times.last or now
        base = len(times)  # `times` already holds the batch's events before these
        for cmd in cmds:
            if self.stop is not None:  # the stop step was final: what the program did after it is not written
                break
            self.stop = stop_outcome(cmd, self.instance.stop_after)
            t = cmd["t"]
            times += [at] * (base + len(items) - len(times))  # the previous command's events
            if t == "start":
                marked = self.times.get(cmd["s"], cmd["o"], cmd["a"], "start")
                if marked is None:  # a step of a fast burst: it takes the time before it
                    self.times.unmarked.add((cmd["s"], cmd["o"], cmd["a"]))
                at = max(at, marked or at)  # never before the event before it
            elif t in ("rstart", "rok", "rfail"):
                at = max(at, clock.now())  # each is flushed as it happens: now is when
            elif t in ("ok", "fail"):
                # No mark: a step of a fast burst (the time before it), or one interrupted by a
                # limit or lost with its worker (it ended now).
                at = max(at, self.times.get(cmd["s"], cmd["o"], cmd["a"], "end") or (
                    at if (cmd["s"], cmd["o"], cmd["a"]) in self.times.unmarked else clock.now()))
            if t == "log":
                items.append((E.LOG, cmd.get("s"), None, {"level": cmd["l"], "message": cmd["m"]}))
                continue
            name = cmd["s"]
            key = (name, cmd["o"])
            if t[0] == "r" and t in ("rstart", "rok", "rfail"):
                items.extend(rollbacks.apply(self, cmd, (name, cmd["o"], "rollback"), at, new, update, attempts_new, update_attempt))
            elif t == "start":
                number = cmd["a"]
                if key in new or key in self.records:
                    update(key, status=R.RUNNING, attempts=number, wake_at=None)
                else:
                    new[key] = {"kind": "do", "status": R.RUNNING, "attempts": number, "config": cmd.get("c"), "started_at": at}
                    items.append((E.STEP_STARTED, name, None, None))
                attempts_new[(key, number)] = {"status": Attempt.Status.RUNNING, "started_at": at}
                self.open_attempts.add(key)
                items.append((E.ATTEMPT_STARTED, name, number, None))
            elif t == "ok":
                self.open_attempts.discard(key)
                self.settled(at)
                update(key, status=R.COMPLETE, output=cmd["v"], finished_at=at, wake_at=None)
                update_attempt(key, cmd["a"], status=Attempt.Status.COMPLETE, finished_at=at)
                items.append((E.STEP_COMPLETED, name, cmd["a"], progress.preview(cmd["v"])))
            elif t == "fail":
                self.open_attempts.discard(key)
                error = cmd["e"]
                if isinstance(error, dict) and error.get("name") == "WorkerLostError":  # replay found an attempt its worker never finished
                    COUNTERS.lost_attempts += 1
                update_attempt(key, cmd["a"], status=Attempt.Status.ERRORED, error=error, finished_at=at)
                if cmd.get("final"):
                    self.settled(at)
                    update(key, status=R.ERRORED, error=error, finished_at=at, wake_at=None)
                    items.append((E.ATTEMPT_ERRORED, name, cmd["a"], {"error": error}))
                    items.append((E.STEP_ERRORED, name, cmd["a"], {"error": error}))
                else:
                    update(key, status=R.RETRYING, error=error, wake_at=clock.from_ms(cmd["wake"]))
                    items.append((E.ATTEMPT_ERRORED, name, cmd["a"], {"error": error, "retryDelayMs": cmd["delay"]}))
            elif t == "sleep":
                wake = clock.from_ms(cmd["wake"])
                new[key] = {"kind": "sleep", "status": R.WAITING, "wake_at": wake}
                items.append((E.SLEEP_STARTED, name, None, {"until": wake.isoformat()}))
            elif t == "slept":
                self.settled(None, self.session.states[key].wake)
                update(key, status=R.COMPLETE, finished_at=at)
                items.append((E.SLEEP_COMPLETED, name, None, None))
            elif t == "wait":
                timeout_at = clock.from_ms(cmd["wake"])
                new[key] = {"kind": "wait", "status": R.WAITING, "wake_at": timeout_at, "config": {"type": cmd["type"]}}
                items.append((E.WAIT_STARTED, name, None, {"eventType": cmd["type"], "timeout": timeout_at.isoformat()}))
            elif t == "got":
                self.settled(at)
                update(key, status=R.COMPLETE, output=cmd["v"], finished_at=at)
                consumed.append((cmd["ev"], key))
                items.append((E.WAIT_COMPLETED, name, None, progress.preview(cmd["v"])))
            elif t == "timeout":
                self.settled(at)
                update(key, status=R.ERRORED, error=cmd["e"], finished_at=at)
                items.append((E.WAIT_TIMED_OUT, name, None, {"error": cmd["e"]}))
        times += [at] * (base + len(items) - len(times))
        self.times.last = at

        if new:
            for key, pk in zip(new, insert_steps(self.instance, new, now)):
                self.records[key] = {"pk": pk}
        for key, fields in changed.items():
            StepRecord.objects.filter(pk=self.records[key]["pk"]).update(**fields)
        if attempts_new:
            insert_attempts(self.instance, {(self.records[key]["pk"], n): a for (key, n), a in attempts_new.items()}, now,
                            fence=self.fence)
        for (key, number), fields in attempts_changed.items():
            Attempt.objects.filter(step_id=self.records[key]["pk"], number=number).update(**fields)
        for event_pk, key in consumed:
            Event.objects.filter(pk=event_pk, instance_id=self.instance.pk).update(consumed_by_id=self.records[key]["pk"])
        return items

    def settled(self, at: datetime | None, wake: int | None = None) -> None:
        """A step became final at `at` (a sleep: at its wake): a replay's clock reaches its stored time."""
        if self.replay_clock is not None:
            value = to_ms(at) if at is not None else wake
            if value is not None and value > self.replay_clock:
                self.replay_clock = value

    def final_state(self, result: dict, now: datetime) -> dict:
        """The instance row's fields (and events) for the end of this advance."""
        base = {"lease_owner": "", "recoveries": result.get("recoveries", 0), "wait_types": None}
        outcome, wake = result.get("outcome"), result.get("wake")
        if self.stop_for_rollback and not result.get("rollbacks"):
            return {**base, "status": S.QUEUED, "due_at": now, "items": []}  # replayed at once, rolling back
        done = {"rollbacks": result["rollbacks"]} if result.get("rollbacks") else {}
        if result.get("terminated"):
            return {**base, "status": S.TERMINATED, "due_at": None, "finished_at": now,
                    "items": [(E.WORKFLOW_TERMINATED, None, None, {"rollback": True, **done})]}
        if outcome and "output" in outcome:
            return {**base, "status": S.COMPLETE, "output": outcome["output"], "due_at": None, "finished_at": now,
                    "items": [(E.WORKFLOW_COMPLETED, None, None, progress.preview(outcome["output"]))]}
        if outcome and "error" in outcome:
            return {**base, "status": S.ERRORED, "error": outcome["error"], "due_at": None, "finished_at": now,
                    "items": [(E.WORKFLOW_ERRORED, None, None, {"error": outcome["error"], **done})]}
        if self.pause:
            return {**base, "status": S.PAUSED, "due_at": None, "items": [(E.WORKFLOW_PAUSED, None, None, None)]}
        if self.yielded:
            return {**base, "status": S.QUEUED, "due_at": now, "items": []}
        if wake is None and self.session is not None and self.session.scope is not None:
            # Parked steps (outside a partial test run's scope) are all it waits for.
            error = {"name": "StopNotReachedError", "message": f"the test run did not reach step {self.instance.stop_after}: "
                     "what it waits for is outside the test's scope (steps that do not lead to it are not run)"}
            return {**base, "status": S.ERRORED, "error": error, "due_at": None, "finished_at": now,
                    "items": [(E.WORKFLOW_ERRORED, None, None, {"error": error})]}
        if wake is None:
            error = {"name": "StuckError", "message": "run() is awaiting something that is not a step, sleep or event: it can never finish"}
            return {**base, "status": S.ERRORED, "error": error, "due_at": None, "finished_at": now,
                    "items": [(E.WORKFLOW_ERRORED, None, None, {"error": error})]}
        due = clock.from_ms(wake)
        # An event that arrived while the program ran was not in its inbox: look again now.
        if Event.objects.filter(instance_id=self.instance.pk, consumed_by__isnull=True, pk__gt=self.max_event_id).exists():
            due = now
        return {**base, "status": S.WAITING, "due_at": due, "wait_types": result.get("waitTypes") or None, "items": [(E.WORKFLOW_WAITING, None, None, {"until": due.isoformat()})]}

    # ---- running ----------------------------------------------------------------------------------
    def run(self) -> str:
        inst = self.instance
        program = self.program = program_text(inst.version)
        self.started = time.monotonic()
        # From the image of the program as the last advance left it, when there is a valid one;
        # else a replay of the whole record.
        sandbox = self.sandbox = snapshots.restored(self, program)
        if sandbox is None:
            sandbox = self.sandbox = ProgramRun(program=program, init=self.init_json(), host=self.host, limits=self.limits)
        self.session.locate = lambda info: sourcemap.locate(info, program)
        result: dict[str, Any] = {}
        try:
            try:
                if not self.resumed:
                    sandbox.start()
                self.drain(sandbox)
                if not self.violation:
                    result = self.final(sandbox.finish())
                if self.resumed and not self.violation and (result.get("outcome") or {}).get("error"):
                    snapshots.load_rest(self)  # the rollbacks' plan needs every step's record
                if not self.violation and rollbacks.due(self, result):
                    result = rollbacks.run(self, sandbox, result)
                elif not self.violation and result.get("resumable"):
                    self.image = snapshots.capture(self, sandbox)
            except SandboxLimit as limit:
                if not self.violation:
                    result = self.after_limit(sandbox, limit)
            except ProgramLoadError as e:
                result = {"cmds": [], "outcome": {"error": {"name": "ProgramError", "message": self.redact(str(e))}}}
            except ProtocolViolation as e:
                self.violation = self.violation or e
            except LeaseLost:
                self.lease_lost = True
        finally:
            self.calls.close()
            sandbox.close()
        if self.lease_lost:
            return "lost"
        if self.ended:  # a test instance ended at its stop step, in a commit of the run itself
            return "released"
        if self.violation:
            result = self.protocol_error(self.violation)
        self.times.record(result.get("marks"))  # attempts that ended after the last host call
        try:
            return self.commit(result["cmds"], outcome=result.get("outcome"), wake=result.get("wake"),
                               waitTypes=result.get("waitTypes"), recoveries=result.get("recoveries", 0),
                               rollbacks=result.get("rollbacks"), terminated=result.get("terminated", False))
        except LeaseLost:
            return "lost"

    def drain(self, sandbox: ProgramRun) -> None:
        """Run the sandbox's job queue and the capability calls running beside it until the program
        is blocked or finished; a limit hit (or a deadline whose step can never settle) raises."""
        sandbox.drain()
        self.settle_calls()
        if not sandbox.timed_out() and sandbox.pending_deadlines():
            # Nothing runs between advances: what those steps (or delay functions) await never settles.
            sandbox.fired = sandbox.pending_deadlines()
        if sandbox.timed_out():
            if sandbox.timed_out_steps():
                raise SandboxLimit("InterruptedError", "stopped because another step in flight timed out")
            raise SandboxLimit("TimeoutError", f"exceeded the time limit of {self.limits.time_seconds:g} s")

    def settle_calls(self) -> None:
        """While capability calls run beside the program (engine.calls), wait for each to end, hand
        its reply to the program and let it go on, until none is left and the program is blocked
        or finished. Waiting is the host's time, not the program's."""
        while self.calls and not (self.lease_lost or self.violation or self.ended):
            waited = time.monotonic()
            ended = self.calls.wait()
            self.sandbox.waited(time.monotonic() - waited)
            for call_id, name, future in ended:
                try:
                    reply = reply_of(future, name=name, instance_id=self.instance.pk)
                except LeaseLost:
                    self.lease_lost = True
                    return
                self.sandbox.settle(call_id, json.dumps(reply))
            self.sandbox.drain()

    def final(self, text: str) -> dict:
        """The runtime's final message, as the host accepted it."""
        f = self.session.final(text)
        if f.diverged and (f.diverged[2] is not None or (f.outcome is not None and "output" in f.outcome)):
            # It would record a new step, or complete, off its recorded path: it ends instead. (A
            # program that throws first ends with its own error: nothing new is recorded either.)
            error = self.session.divergence_error(f.diverged)
            return {"cmds": f.cmds, "outcome": {"error": error}, "wake": None, "waitTypes": [], "marks": f.marks}
        return {"cmds": f.cmds, "outcome": f.outcome, "wake": f.wake, "waitTypes": f.wait_types, "marks": f.marks,
                "resumable": f.resumable}

    def protocol_error(self, violation: ProtocolViolation) -> dict:
        """The program (through the runtime in its realm) sent what the host refuses: it ends, typed.
        Nothing of the refused message is written; what was committed before it stays."""
        message = clean(self.redact(str(violation)))[:1000]
        log.warning("protocol violation: instance %s of tenant %s: %s", self.instance.pk, self.instance.tenant_id, message)
        error = {"name": "ProtocolError", "message": f"the step runtime sent a message the engine refuses: {message}"}
        return {"cmds": [], "outcome": {"error": error}}

    def after_limit(self, sandbox: ProgramRun, limit: SandboxLimit) -> dict:
        """A limit cut the advance short: fail the attempts in flight, or the workflow if none was."""
        try:
            if limit.name == "MemoryLimitError":
                sandbox.collect()  # the runtime must allocate to record the failures
            if sandbox.interrupted(limit.name, limit.message, sandbox.timed_out_steps()):
                result = self.final(sandbox.finish())
                result["outcome"] = None
                if result["wake"] is None:
                    result["wake"] = clock.to_ms(self.now)  # a step that failed for good: replay ends it
                return result
        except SandboxLimit:
            # The context trapped (stack, wasm memory): it cannot say which steps were in flight.
            if not self.instance.recoveries >= 2:
                # Replay at once in trace mode, where each attempt is committed as it starts.
                return {"cmds": [], "outcome": None, "wake": clock.to_ms(self.now), "recoveries": 2}
            with transaction.atomic():
                if not Instance.objects.select_for_update().filter(
                        pk=self.instance.pk, lease_owner=self.worker, fence=self.fence).exists():
                    raise LeaseLost() from None
                lost = StepRecord.objects.filter(instance_id=self.instance.pk, status=R.RUNNING)
                if lost.update(error={"name": limit.name, "message": limit.message}):
                    return {"cmds": [], "outcome": None, "wake": clock.to_ms(self.now)}
        return {"cmds": [], "outcome": {"error": {"name": limit.name, "message": f"the workflow {limit.message}"}}}


def advance(instance_id: Any, *, worker: str) -> str:
    """Claim and run an instance until it blocks or finishes.

    Returns "skipped" (not due, or another worker has it), "lost" (terminated or taken over while
    running), "due" (released but due again at once) or "released"."""
    now = clock.now()
    since = time.monotonic()  # the lease runs from before the claim, on this worker's clock
    instance = claim(instance_id, worker=worker, now=now)
    if instance is None:
        return "skipped"
    COUNTERS.advances += 1
    return Advance(instance=instance, worker=worker, now=now, lease=Lease(since)).run()
