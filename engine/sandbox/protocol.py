"""The runtime<->host protocol, declared once: what prelude.js may send, checked as hostile input.

The step runtime shares a JavaScript realm with the tenant's program, so nothing it sends is
trusted. Every message passes `Session`, which keeps the host's own view of the instance's steps
(loaded from the database, then changed only by commands it accepted) and accepts a command only
when it is well-formed and legal in that view. Invariants:
- One handler per command type (`HANDLERS`); an unknown command, key or type is a violation,
  never silently dropped.
- Order: a step is started before it completes or fails, attempt numbers go up by one, nothing
  arrives for a step that was never started or is already final, occurrences of a name are
  consecutive, an event is consumed once and only by a wait for its type.
- Sizes and values: step results and the workflow's output are valid JSON (no NaN, bounded
  nesting) of at most `max_output` UTF-8 bytes; names and types are bounded UTF-8 text; wakes and
  deadlines lie within the plan's limits; capability names come from the allow-list; log lines are
  capped by count and bytes here, whatever the runtime claims.
- The values the host stores are the ones it built or checked: an event's output is built from
  the event row, a capability's caller is the step the host knows to be in flight.
- A partial test run's scope (engine.seeding): no step outside it is started, slept or waited
  for, whatever the runtime sends, so none of its capability calls is made.
- Nothing can name another instance: commands carry step names only, and the host applies them to
  the instance whose lease it holds.
A violation raises ProtocolViolation; the runner ends the instance with a `ProtocolError`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from . import undo
from .values import (  # noqa: F401 (re-exported: the protocol's names)
    BACKOFFS, DAY_MS, DECODER, FINISHED, LOG_LEVELS, LOG_LIMIT_LINE, MAX_CAPABILITY_ARGS, MAX_ERROR_NAME,
    MAX_ERROR_TEXT, MAX_JSON_DEPTH, MAX_LOG_LINE, MAX_MARKS, MAX_NAME, MAX_SLEEP_MS, MAX_TYPE, ProtocolViolation,
    StepState, clean, config, error_info, fail, integer, is_int, json_text, text,
)
MAX_CALLS = 1000  # capability calls started together in one message


KEYS_START = frozenset({"t", "s", "o", "a", "c"})
KEYS_OK = frozenset({"t", "s", "o", "a", "v"})
KEYS_FAIL = frozenset({"t", "s", "o", "a", "e", "final", "delay", "wake"})
KEYS_SLEEP = frozenset({"t", "s", "o", "wake"})
KEYS_SLEPT = frozenset({"t", "s", "o"})
KEYS_WAIT = frozenset({"t", "s", "o", "type", "wake"})
KEYS_GOT = frozenset({"t", "s", "o", "ev", "v"})
KEYS_TIMEOUT = frozenset({"t", "s", "o", "e"})


@dataclass
class Limits:
    now: int  # the advance's clock, ms
    max_output: int
    max_logs: int
    max_log_bytes: int
    max_commands: int
    capabilities: frozenset[str]
    concurrent: frozenset[str] = frozenset()  # capabilities that may be started together (`calls`)
    max_steps: int = 25_000  # steps one instance may have (the plan's steps_per_instance)


@dataclass
class Message:
    """An accepted flush: commands to commit, then at most one of the extras."""

    cmds: list[dict]
    deadline: tuple[str, int] | None = None  # (step key, timeout ms)
    clear: str | None = None
    cap: tuple[str, Any, tuple[str, int, int] | None] | None = None  # (name, args, calling step)
    calls: list[tuple[str, Any, tuple[str, int, int] | None]] | None = None  # started together
    memory: bool = False  # the runtime asks whether the heap was exhausted
    occ: int | None = None  # the highest occurrence of the step name it asked for (resume.js: askOccurrence)
    rollback: dict | None = None  # a rollback started: the host's context and output of its step
    # Attempt begin/end marks for the host's clock (engine.live.AttemptTimes checks each mark;
    # a bad one only misplaces the times of the tenant's own steps). `marks_only`: nothing else.
    marks: list | None = None
    marks_only: bool = False


@dataclass
class Final:
    cmds: list[dict]
    outcome: dict | None
    wake: int | None
    wait_types: list[str]
    halted: bool
    marks: list | None = None
    # The replay did not reach a recorded step: (expected name, occurrence, got name, occurrence,
    # kind), got None when the program took no new step (it ended or blocked). Checked here.
    diverged: tuple | None = None
    # The runtime says its state is the one a replay would rebuild (engine.snapshots may keep an
    # image of it). A claim about the tenant's own instance only: what a resumed program sends is
    # checked like everything else.
    resumable: bool = False


FINAL = "final"  # a final step status


@dataclass
class Session:
    """One advance's protocol state. `states` starts from the instance's stored step rows;
    `inbox` maps unconsumed event ids to (type, payload, ISO timestamp)."""

    limits: Limits
    states: dict[tuple[str, int], StepState]
    inbox: dict[int, tuple[str, Any, str]]
    redact: Callable[[str], str] = lambda value: value
    # Translates an error's stack frames into the tenant's terms (engine.sourcemap), after redaction.
    locate: Callable[[dict], dict] = lambda info: info
    logs: int = 0
    log_bytes: int = 0
    occurrences: dict[str, int] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)  # step names already checked
    # Saga rollbacks (engine.sandbox.undo): the host's records of the rollbacks, by step key, and
    # the phase's plan once the host began it (None: the program runs, not its rollbacks).
    undo: dict[tuple[str, int], StepState] = field(default_factory=dict)
    plan: list[tuple[str, int]] | None = None
    answer: tuple[str, int] | None = None  # the rollback just started: its reply carries its step
    next_seq: int = 0
    scope: frozenset[str] | None = None  # a partial test run's step names (None: every step may run)
    count: int = -1  # steps the instance has (-1: as many as `states`)
    # Resumed from a snapshot (engine.snapshots), `states` holds only the steps that are not final:
    # the highest recorded occurrence of a name is looked up (name -> int) when the name first
    # comes up. A final step is never changed again, so a command naming one that is not loaded
    # is refused as it would be with every step loaded.
    lookup: Callable[[str], int] | None = None
    asked: int = 0  # occurrence questions: each one uses up a step of the plan's (resume.js)

    def __post_init__(self) -> None:
        # The record's order (states come in the order the steps were first recorded).
        self.recorded = {key: n for n, key in enumerate(self.states, 1)} if self.lookup is None else {}
        if self.count < 0:
            self.count = len(self.states)
        for (name, occ), state in self.states.items():
            if occ > self.occurrences.get(name, 0) and self.lookup is None:
                self.occurrences[name] = occ
            if state.seq >= self.next_seq:
                self.next_seq = state.seq + 1
        if self.lookup is not None:
            self.next_seq = max(self.next_seq, 1 << 62)  # after every row id, loaded or not
        self.steps_left = self.limits.max_steps - self.count  # what occurrence questions may use up

    # ---- messages ---------------------------------------------------------------------------------
    def decode(self, raw: Any, what: str) -> dict:
        if not isinstance(raw, str):
            fail(f"the {what} is not text")
        try:
            message = DECODER.decode(raw)
        except ProtocolViolation:
            raise
        except (ValueError, RecursionError):
            fail(f"the {what} is not valid JSON")
        if not isinstance(message, dict):
            fail(f"the {what} is not an object")
        return message

    def commands(self, cmds: Any) -> list[dict]:
        if not isinstance(cmds, list):
            fail("cmds must be a list")
        if len(cmds) > self.limits.max_commands:
            fail(f"more than {self.limits.max_commands} commands in one message")
        accepted = []
        for cmd in cmds:
            if not isinstance(cmd, dict) or cmd.get("t") not in HANDLERS:
                fail(f"unknown command {str(cmd)[:80]}")
            if self.plan is not None and cmd["t"] not in undo.COMMANDS and cmd["t"] != "log":
                fail(f"a {cmd['t']} command while the instance rolls back")
            out = HANDLERS[cmd["t"]](self, cmd)
            if out is not None:
                accepted.append(out)
        return accepted

    def message(self, raw: Any) -> Message:
        """A flush from the runtime (commands, and a deadline, clear, capability call, memory query or
        a step name's occurrence)."""
        message = self.decode(raw, "message")
        if len(message) == 1 and "marks" in message:  # an attempt's begin mark: the most frequent message
            return Message(cmds=[], marks=marks(message["marks"]), marks_only=True)
        extra = message.keys() - {"cmds", "marks", "from"}
        if extra - {"deadline", "clear", "cap", "memory", "calls", "occ"} or len(extra) > 1 or ("from" in message and "cap" not in message):
            fail(f"unexpected keys in a message: {sorted(message.keys() - {'cmds', 'marks'})}")
        result = Message(cmds=self.commands(message.get("cmds", [])))
        if "marks" in message:
            result.marks = marks(message["marks"])
            result.marks_only = len(message) == 1
        if self.answer is not None:
            result.rollback = undo.context(self, self.answer)
            self.answer = None
        if "deadline" in message:
            d = message["deadline"]
            if not isinstance(d, list) or len(d) != 2:
                fail("deadline must be [step key, timeout ms]")
            self.inflight_key(d[0])
            result.deadline = (d[0], integer(d[1], "deadline", 0, MAX_SLEEP_MS))
        elif "clear" in message:
            if not isinstance(message["clear"], str):
                fail("clear must be a step key")
            result.clear = message["clear"]
        elif "cap" in message:
            c = message["cap"]
            if not isinstance(c, list) or len(c) != 2 or not isinstance(c[1], str):
                fail("cap must be [name, arguments as JSON text]")
            if c[0] not in self.limits.capabilities:
                fail(f"step.{str(c[0])[:64]} is not a capability of this deployment")
            args = json.loads(json_text(c[1], f"the arguments of step.{c[0]}", MAX_CAPABILITY_ARGS))
            result.cap = (c[0], args, self.caller(message.get("from")))
        elif "calls" in message:
            c = message["calls"]
            if not isinstance(c, list) or not 1 <= len(c) <= MAX_CALLS:
                fail(f"calls must be a list of 1 to {MAX_CALLS} [name, arguments as JSON text, calling step or null]")
            result.calls = [self.concurrent_call(item) for item in c]
        elif "memory" in message:
            if message["memory"] is not True:
                fail("memory must be true")
            result.memory = True
        elif "occ" in message:
            # Only the instance's own record is read (a resumed session looks it up by index).
            # Only a program resumed from an image asks (it dropped the record), and each question
            # uses up one of the steps the plan has left (resume.js: askOccurrence).
            if self.lookup is None:
                fail("an occurrence question from a program that holds its record")
            self.asked += 1
            if self.asked > self.steps_left:
                fail(f"more step-name occurrence questions than the {self.steps_left} steps the plan has left")
            result.occ = self.occurrence(text(message["occ"], "a step name", MAX_NAME))
        return result

    def concurrent_call(self, item: Any) -> tuple[str, Any, tuple[str, int, int] | None]:
        """One of the capability calls a message starts together (only CONCURRENT capabilities)."""
        if not isinstance(item, list) or len(item) != 3 or not isinstance(item[1], str):
            fail("a call must be [name, arguments as JSON text, calling step or null]")
        if item[0] not in self.limits.concurrent:
            fail(f"step.{str(item[0])[:64]} cannot run beside other calls")
        args = json.loads(json_text(item[1], f"the arguments of step.{item[0]}", MAX_CAPABILITY_ARGS))
        return item[0], args, self.caller(item[2])

    def final(self, raw: Any) -> Final:
        """The runtime's last message of the advance: remaining commands and where the program is."""
        message = self.decode(raw, "final message")
        if message.keys() - {"marks", "diverged", "resumable"} != {"cmds", "outcome", "wake", "waitTypes", "halted"}:
            fail(f"the final message has keys {sorted(message)[:10]}")
        cmds = self.commands(message["cmds"])
        outcome = message["outcome"]
        if outcome is not None:
            if not isinstance(outcome, dict) or len(outcome) != 1 or not outcome.keys() <= {"output", "error"}:
                fail("outcome must be {output} or {error}")
            if "output" in outcome:
                outcome = {"output": self.redact_json(json_text(outcome["output"], "the workflow's output", self.limits.max_output))}
            else:
                outcome = {"error": self.redact_error(error_info(outcome["error"], "the workflow's error"))}
        wake = message["wake"]
        rolling_back = self.plan is not None
        if wake is not None:
            # A blocked program waits for one of its own timers, which are ahead of now; in the
            # rollback phase, only for a rollback's retry.
            pending = {s.wake for s in (self.undo if rolling_back else self.states).values() if s.status in ("waiting", "retrying")}
            if not is_int(wake) or wake <= self.limits.now or wake not in pending:
                fail("wake is not the due time of a pending sleep, wait or retry")
        types = message["waitTypes"]
        waiting = set() if rolling_back else {s.type for s in self.states.values() if s.kind == "wait" and s.status == "waiting"}
        if not isinstance(types, list) or not all(isinstance(t, str) and t in waiting for t in types):
            fail("waitTypes must name event types of pending waits")
        if not isinstance(message["halted"], bool):
            fail("halted must be true or false")
        if message.get("resumable", True) is not True:
            fail("resumable must be true or absent")
        return Final(cmds=cmds, outcome=outcome, wake=wake, wait_types=list(dict.fromkeys(types)), halted=message["halted"],
                     marks=marks(message["marks"]) if "marks" in message else None,
                     diverged=self.diverged(message["diverged"]) if "diverged" in message else None,
                     resumable="resumable" in message)

    def diverged(self, value: Any) -> tuple:
        """The runtime's report of a recorded step its replay did not reach: the step must be in
        the record this advance loaded, and the step taken instead must not be."""
        if not isinstance(value, list) or len(value) != 5:
            fail("diverged must be [name, occurrence, got name, got occurrence, got kind]")
        expected = (value[0], value[1])
        if expected not in self.recorded:
            fail("diverged names a step that is not in this instance's record")
        if value[2] is None:
            if value[3] is not None or value[4] is not None:
                fail("diverged: no step taken instead, but an occurrence or kind")
            return (*expected, None, None, None)
        got = (text(value[2], "the step taken instead", MAX_NAME), value[3])
        if type(got[1]) is not int or got[1] < 1 or got in self.recorded or value[4] not in ("do", "sleep", "wait"):
            fail("diverged: the step taken instead must be a new do, sleep or wait")
        return (*expected, *got, value[4])

    def divergence_error(self, diverged: tuple) -> dict:
        """The NonDeterminismError that ends an instance whose program left its record, worded by the
        host from its own record."""
        name, occ, got, got_occ, kind = diverged
        where = f"step {name}" + (f" (occurrence {occ})" if occ > 1 else "")
        position = self.recorded[(name, occ)]
        instead = (f"the program now takes {kind} step {got}" + (f" (occurrence {got_occ})" if got_occ > 1 else "")
                   + " without reaching it") if got is not None else "the program no longer reaches it"
        return self.redact_error({"name": "NonDeterminismError",
                                  "message": f"{where} is step {position} of this instance's history, but {instead}: "
                                             "the program is not deterministic (a step was renamed, inserted, removed or moved)"})

    # ---- the rollback phase (engine.sandbox.undo) ------------------------------------------------
    def begin_rollbacks(self) -> list[list[Any]]:
        """Start the rollback phase: the plan the runtime gets (what is left to undo, in order)."""
        return undo.begin(self)

    def rollback_summary(self) -> dict:
        return undo.summary(self)

    def rollback_steps(self) -> list[str]:
        return [name for name, _ in self.plan or []]

    # ---- helpers ----------------------------------------------------------------------------------
    def key(self, cmd: dict, allowed: frozenset[str]) -> tuple[str, int]:
        if not cmd.keys() <= allowed:
            fail(f"unexpected keys in a {cmd['t']} command: {sorted(cmd.keys() - allowed)}")
        name = cmd.get("s")
        if name not in self.names:  # a name is checked once per advance (start and ok share it)
            self.names.add(text(name, "a step name", MAX_NAME))
        occ = cmd.get("o")
        if type(occ) is not int or not 1 <= occ <= 10**9:
            fail(f"the occurrence of step {name} must be an integer from 1 to {10**9}")
        return name, occ

    def new_step(self, key: tuple[str, int]) -> None:
        name, occ = key
        if key in self.states:
            fail(f"step {name} (occurrence {occ}) already exists")
        if self.scope is not None and not within(name, self.scope):
            fail(f"step {name} is outside this test run's scope: it does not lead to the step the run stops after")
        if occ != self.occurrence(name) + 1:
            fail(f"step {name}: occurrence {occ} does not follow {self.occurrence(name)}")
        if self.count >= self.limits.max_steps:
            fail(f"step {name}: the instance already has {self.limits.max_steps} steps, the plan's limit")
        self.occurrences[name] = occ
        self.count += 1
        self.next_seq += 1

    def occurrence(self, name: str) -> int:
        """The highest occurrence of step `name` the instance has (0: none)."""
        if name not in self.occurrences and self.lookup is not None:
            self.occurrences[name] = self.lookup(name)
        return self.occurrences.get(name, 0)

    def existing(self, key: tuple[str, int], kind: str) -> StepState:
        state = self.states.get(key)
        if state is None or state.kind != kind:
            fail(f"no {kind} step {key[0]} (occurrence {key[1]}) was started")
        if state.status in FINISHED:
            fail(f"step {key[0]} (occurrence {key[1]}) is already {state.status}")
        return state

    def wake(self, value: Any, what: str) -> int:
        return integer(value, what, self.limits.now, self.limits.now + MAX_SLEEP_MS)

    def inflight_key(self, value: Any) -> tuple[str, int]:
        if not isinstance(value, str) or "\x00" not in value:
            fail("a step key must be name NUL occurrence")
        states = self.states
        if value.endswith(undo.SLOT):  # a rollback's deadline
            value, states = value[:-len(undo.SLOT)], self.undo
        name, _, occ = value.rpartition("\x00")
        key = (name, int(occ) if occ.isdigit() else -1)
        state = states.get(key)
        if state is None or state.inflight is None:
            fail(f"step {name[:64]} has no attempt in flight")
        return key

    def caller(self, claimed: Any = None) -> tuple[str, int, int] | None:
        """The step a capability call belongs to: the one attempt in flight, as the host knows it.
        With several in flight (`Promise.all`), the runtime may name the step whose function made
        the call (`from`); the host takes it only if that step has an attempt in flight (a step
        may have ended before a call it made without awaiting it went out), so a program can at
        most credit a call to another of its own running steps."""
        if isinstance(claimed, str) and "\x00" in claimed:
            name, _, occ = claimed.rpartition("\x00")
            state = self.states.get((name, int(occ) if occ.isdigit() else -1))
            if state is not None and state.inflight is not None:
                return name, int(occ), state.inflight
        elif claimed is not None:
            fail("a call's step must be name NUL occurrence, or null")
        flying = [(k, s.inflight) for k, s in self.states.items() if s.inflight is not None]
        rolling = undo.in_flight(self)
        if rolling is not None:  # a rollback handler's calls: keys of their own, never its step's
            flying.append(((rolling[0][0] + undo.SLOT, rolling[0][1]), rolling[1].inflight))
        if len(flying) != 1:
            return None
        (name, occ), attempt = flying[0]
        return name, occ, attempt

    def redact_json(self, value: str) -> str:
        """Redaction may cut an escape sequence in two: then the whole value is withheld."""
        redacted = self.redact(value)
        if redacted is value or redacted == value:
            return value
        try:
            json.loads(redacted)
            return redacted
        except ValueError:
            return '"[REDACTED]"'

    def redact_error(self, info: dict) -> dict:
        return self.locate({k: self.redact(v) for k, v in info.items()})

    # ---- one handler per command ------------------------------------------------------------------
    def on_start(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_START)
        state = self.states.get(key)
        if state is None:
            self.new_step(key)
            if "c" not in cmd:
                fail(f"the first attempt of step {key[0]} has no config")
            state = self.states[key] = StepState(kind="do", status="running", seq=self.next_seq)
        else:
            self.existing(key, "do")
            if state.inflight is not None:
                fail(f"step {key[0]} already has attempt {state.inflight} in flight")
        attempt = integer(cmd.get("a"), f"the attempt of step {key[0]}", 1, 10**6)
        if attempt != state.attempts + 1:
            fail(f"step {key[0]}: attempt {attempt} does not follow attempt {state.attempts}")
        out = {"t": "start", "s": key[0], "o": key[1], "a": attempt}
        if "c" in cmd:
            out["c"] = config(cmd["c"], key[0])
            if "rollback" in out["c"]:
                state.config = out["c"]  # the step registered a rollback: keep what it will need
        state.status, state.attempts, state.inflight, state.wake = "running", attempt, attempt, None
        return out

    def on_ok(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_OK)
        state = self.existing(key, "do")
        attempt = cmd.get("a")
        if state.inflight is None or attempt != state.inflight:
            fail(f"step {key[0]}: a result for attempt {attempt}, which is not in flight")
        value = self.redact_json(json_text(cmd.get("v"), f"the result of step {key[0]}", self.limits.max_output))
        state.status, state.inflight = "complete", None
        if state.config is not None:
            state.output = value
        return {"t": "ok", "s": key[0], "o": key[1], "a": attempt, "v": value}

    def on_fail(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_FAIL)
        state = self.existing(key, "do")
        attempt = cmd.get("a")
        # The attempt this advance runs, or one a lost worker left running (found by replay).
        lost = state.inflight is None and state.status == "running" and attempt == state.attempts
        if not lost and (state.inflight is None or attempt != state.inflight):
            fail(f"step {key[0]}: a failure of attempt {attempt}, which is not in flight")
        out = {"t": "fail", "s": key[0], "o": key[1], "a": attempt,
               "e": self.redact_error(error_info(cmd.get("e"), f"the error of step {key[0]}"))}
        if cmd.get("final") is True:
            if "delay" in cmd or "wake" in cmd:
                fail(f"step {key[0]}: a final failure has no retry")
            out["final"] = True
            state.status = "errored"
        else:
            if "final" in cmd:
                fail("final must be true or absent")
            out["delay"] = integer(cmd.get("delay"), f"the retry delay of step {key[0]}", 0, MAX_SLEEP_MS)
            out["wake"] = self.wake(cmd.get("wake"), f"the retry time of step {key[0]}")
            if out["wake"] != self.limits.now + out["delay"]:
                fail(f"step {key[0]}: the retry time is not now plus the delay")
            state.status, state.wake = "retrying", out["wake"]
        state.inflight = None
        return out

    def on_sleep(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_SLEEP)
        self.new_step(key)
        wake = self.wake(cmd.get("wake"), f"the wake time of sleep {key[0]}")
        self.states[key] = StepState(kind="sleep", status="waiting", wake=wake)
        return {"t": "sleep", "s": key[0], "o": key[1], "wake": wake}

    def on_slept(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_SLEPT)
        state = self.existing(key, "sleep")
        if state.wake is None or state.wake > self.limits.now:
            fail(f"sleep {key[0]} is not due")
        state.status = "complete"
        return {"t": "slept", "s": key[0], "o": key[1]}

    def on_wait(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_WAIT)
        self.new_step(key)
        type_ = text(cmd.get("type"), f"the event type of wait {key[0]}", MAX_TYPE)
        wake = self.wake(cmd.get("wake"), f"the timeout of wait {key[0]}")
        self.states[key] = StepState(kind="wait", status="waiting", wake=wake, type=type_)
        return {"t": "wait", "s": key[0], "o": key[1], "type": type_, "wake": wake}

    def on_got(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_GOT)
        state = self.existing(key, "wait")
        event = self.inbox.pop(cmd.get("ev"), None) if is_int(cmd.get("ev")) else None
        if event is None:
            fail(f"wait {key[0]}: event {str(cmd.get('ev'))[:32]} is not in the inbox")
        if event[0] != state.type:
            fail(f"wait {key[0]} is for {state.type} events, not {event[0]}")
        # The output is built here from the event row: what the program claims is not stored.
        value = json.dumps({"type": event[0], "payload": event[1], "timestamp": event[2]}, ensure_ascii=False,
                           separators=(",", ":"))
        state.status = "complete"
        return {"t": "got", "s": key[0], "o": key[1], "ev": cmd["ev"], "v": value}

    def on_timeout(self, cmd: dict) -> dict:
        key = self.key(cmd, KEYS_TIMEOUT)
        state = self.existing(key, "wait")
        if state.wake is None or state.wake > self.limits.now:
            fail(f"wait {key[0]} has not timed out")
        error_info(cmd.get("e"), f"the error of wait {key[0]}")
        state.status = "errored"
        info = {"name": "WaitTimeoutError", "message": f"waitForEvent {key[0]}: no {state.type} event arrived before the timeout"}
        return {"t": "timeout", "s": key[0], "o": key[1], "e": self.redact_error(info)}

    def on_log(self, cmd: dict) -> dict | None:
        if cmd.keys() - {"t", "l", "s", "m"} or cmd.get("l") not in LOG_LEVELS:
            fail("a log command is {t, l: info|warn|error|debug, s, m}")
        step = cmd.get("s")
        if step is not None:
            text(step, "a log line's step", MAX_NAME)
        line = text(cmd.get("m"), "a log line", MAX_LOG_LINE, empty=True)
        # The host's own count: lines past the plan's limit are dropped, whatever the runtime does.
        if self.logs >= self.limits.max_logs or self.log_bytes >= self.limits.max_log_bytes:
            return None
        self.logs += 1
        self.log_bytes += len(line)
        if self.logs == self.limits.max_logs or self.log_bytes >= self.limits.max_log_bytes:
            line = LOG_LIMIT_LINE
        return {"t": "log", "l": cmd["l"], "s": step, "m": self.redact(clean(line))}


HANDLERS: dict[str, Callable[[Session, dict], dict | None]] = {
    "start": Session.on_start, "ok": Session.on_ok, "fail": Session.on_fail, "sleep": Session.on_sleep,
    "slept": Session.on_slept, "wait": Session.on_wait, "got": Session.on_got, "timeout": Session.on_timeout,
    "log": Session.on_log, **undo.HANDLERS,
}


def within(name: str, scope: frozenset[str]) -> bool:
    """Whether step `name` belongs to a node of `scope`: the node's own step, a loop body's item
    (`id[2]`, `id[2][0]`) or a node's second step (`id.result`). Mirrors order.js's outside()."""
    if name in scope:
        return True
    return any(name[:i] in scope for i, ch in enumerate(name) if ch in "[.")


def marks(value: Any) -> list:
    if not isinstance(value, list) or len(value) > MAX_MARKS:
        fail(f"marks must be a list of at most {MAX_MARKS}")
    return value
