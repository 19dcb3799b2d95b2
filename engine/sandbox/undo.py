"""The host's side of saga rollbacks: which steps an instance undoes, in which order, and the
rollback commands (rstart, rok, rfail) checked against the host's own records.

Invariants:
- The host, not the sandbox, starts the rollback phase (`begin`) and decides its plan: the
  completed do steps that registered a rollback handler when they first ran (their stored config
  says so), latest-started first, less those whose rollback already finished. The runtime only
  learns the plan.
- A rollback command is accepted only for the next step of that plan, one attempt at a time,
  attempt numbers going up by one within the rollback's own retry limit, a retry only once it is
  due; a finished rollback never starts again, and no step that did not complete can be rolled back.
- While the phase runs, no command of the program's own steps is accepted (Session.commands).
- A rollback's context and output are the host's records of the step, never the sandbox's claims.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .values import FINISHED, MAX_SLEEP_MS, StepState, error_info, fail, integer

if TYPE_CHECKING:
    from .protocol import Session

COMMANDS = frozenset({"rstart", "rok", "rfail"})
KEYS_RSTART = frozenset({"t", "s", "o", "a"})
KEYS_RFAIL = frozenset({"t", "s", "o", "a", "e", "final", "delay", "wake"})
SLOT = "\x00rollback"  # a rollback's deadline key: the step's key and this


def begin(session: Session) -> list[list[Any]]:
    """Start the rollback phase; returns the plan for the runtime: [name, occurrence, attempts,
    status, wake] of each rollback still to run (status None: not started), in the order to run."""
    eligible = [(key, s) for key, s in session.states.items()
                if s.kind == "do" and s.status == "complete" and s.rollback is not None]
    eligible.sort(key=lambda item: item[1].seq, reverse=True)
    session.plan = [key for key, _ in eligible]
    out = []
    for key in session.plan:
        u = session.undo.get(key)
        if u is None:
            out.append([key[0], key[1], 0, None, None])
        elif u.status not in FINISHED:
            out.append([key[0], key[1], u.attempts, u.status, u.wake])
    return out


def summary(session: Session) -> dict:
    """How the phase went so far: {completed, failed, pending} counts of the plan's rollbacks."""
    counts = {"completed": 0, "failed": 0, "pending": 0}
    for key in session.plan or []:
        status = session.undo[key].status if key in session.undo else None
        counts["completed" if status == "complete" else "failed" if status == "errored" else "pending"] += 1
    return counts


def next_key(session: Session) -> tuple[str, int] | None:
    for key in session.plan or []:
        state = session.undo.get(key)
        if state is None or state.status not in FINISHED:
            return key
    return None


def context(session: Session, key: tuple[str, int]) -> dict:
    """What the rollback handler receives of its step: its committed output and its context."""
    step = session.states[key]
    return {"output": step.output if step.output is not None else "null", "attempt": step.attempts,
            "config": {k: v for k, v in step.config.items() if k != "rollback"}}


def in_flight(session: Session) -> tuple[tuple[str, int], StepState] | None:
    for key, state in session.undo.items():
        if state.inflight is not None:
            return key, state
    return None


def on_rstart(session: Session, cmd: dict) -> dict:
    key = session.key(cmd, KEYS_RSTART)
    if session.plan is None:
        fail(f"a rollback of step {key[0]} outside the rollback phase")
    if key != next_key(session):
        fail(f"the rollback of step {key[0]} (occurrence {key[1]}) is not the next one to run"
             if key in session.plan else f"step {key[0]} (occurrence {key[1]}) has no rollback to run")
    state = session.undo.get(key)
    if state is None:
        state = session.undo[key] = StepState(kind="do", status="running")
    elif state.inflight is not None:
        fail(f"the rollback of step {key[0]} already has attempt {state.inflight} in flight")
    elif state.status == "retrying" and state.wake is not None and state.wake > session.limits.now:
        fail(f"the rollback of step {key[0]} is not due for a retry")
    attempt = integer(cmd.get("a"), f"the attempt of the rollback of step {key[0]}", 1, 10**6)
    if attempt != state.attempts + 1:
        fail(f"the rollback of step {key[0]}: attempt {attempt} does not follow attempt {state.attempts}")
    limit = session.states[key].rollback["retries"]["limit"]
    if attempt > limit + 1:
        fail(f"the rollback of step {key[0]}: attempt {attempt} is over its retry limit of {limit}")
    state.status, state.attempts, state.inflight, state.wake = "running", attempt, attempt, None
    session.answer = key
    return {"t": "rstart", "s": key[0], "o": key[1], "a": attempt}


def _existing(session: Session, key: tuple[str, int]) -> StepState:
    state = session.undo.get(key)
    if state is None or session.plan is None or key not in session.plan:
        fail(f"no rollback of step {key[0]} (occurrence {key[1]}) was started")
    if state.status in FINISHED:
        fail(f"the rollback of step {key[0]} is already {state.status}")
    return state


def on_rok(session: Session, cmd: dict) -> dict:
    key = session.key(cmd, KEYS_RSTART)
    state = _existing(session, key)
    if state.inflight is None or cmd.get("a") != state.inflight:
        fail(f"the rollback of step {key[0]}: a success of attempt {cmd.get('a')}, which is not in flight")
    state.status, state.inflight = "complete", None
    return {"t": "rok", "s": key[0], "o": key[1], "a": cmd["a"]}


def on_rfail(session: Session, cmd: dict) -> dict:
    key = session.key(cmd, KEYS_RFAIL)
    state = _existing(session, key)
    attempt = cmd.get("a")
    lost = state.inflight is None and state.status == "running" and attempt == state.attempts
    if not lost and (state.inflight is None or attempt != state.inflight):
        fail(f"the rollback of step {key[0]}: a failure of attempt {attempt}, which is not in flight")
    out = {"t": "rfail", "s": key[0], "o": key[1], "a": attempt,
           "e": session.redact_error(error_info(cmd.get("e"), f"the error of the rollback of step {key[0]}"))}
    if cmd.get("final") is True:
        if "delay" in cmd or "wake" in cmd:
            fail(f"the rollback of step {key[0]}: a final failure has no retry")
        out["final"] = True
        state.status = "errored"
    else:
        if "final" in cmd:
            fail("final must be true or absent")
        limit = session.states[key].rollback["retries"]["limit"]
        if attempt > limit:
            fail(f"the rollback of step {key[0]}: a retry after attempt {attempt}, over its retry limit of {limit}")
        out["delay"] = integer(cmd.get("delay"), f"the retry delay of the rollback of step {key[0]}", 0, MAX_SLEEP_MS)
        out["wake"] = session.wake(cmd.get("wake"), f"the retry time of the rollback of step {key[0]}")
        if out["wake"] != session.limits.now + out["delay"]:
            fail(f"the rollback of step {key[0]}: the retry time is not now plus the delay")
        state.status, state.wake = "retrying", out["wake"]
    state.inflight = None
    return out


HANDLERS = {"rstart": on_rstart, "rok": on_rok, "rfail": on_rfail}
