"""The rollback phase of an advance: after the program failed (or its instance was terminated with
rollback), the host runs the rollback handlers its steps registered (engine.sandbox.undo decides
which and in which order; the runtime's rollback.js runs them).

Invariants:
- The phase begins in a commit of its own (Instance.rollback holds its reason and error) before
  any handler runs, so a crash resumes the phase, never the program: a replay in the phase runs
  nothing new of the program and only finds its handlers.
- Each rollback is committed as it starts and as it ends (the runtime flushes both), so one that
  completed never runs again; one cut short by a crash or a limit counts a failed attempt and is
  retried within its rollbackConfig.
- The instance ends only when every rollback of the plan has completed or failed for good:
  errored with the program's error, or terminated (terminate with rollback), with a summary.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import clock, progress
from .models import Attempt, StepRecord
from .sandbox import ProgramRun

if TYPE_CHECKING:
    from .runner import Advance

E = progress.EventType
R = StepRecord.Status
TERMINATE_ERROR = {"name": "Terminated", "message": "the instance was terminated (with rollback)"}


def due(advance: Advance, result: dict) -> bool:
    """Whether this advance runs rollbacks: the instance is in its phase already, or its program
    has just failed and some completed step registered a rollback."""
    if advance.instance.rollback is not None:
        return True
    outcome = result.get("outcome")
    # (Paused meanwhile: the phase still begins; its handlers wait for the resume.)
    if not outcome or "error" not in outcome or advance.stop_for_rollback:
        return False
    return any(s.kind == "do" and s.status == "complete" and s.rollback is not None
               for s in advance.session.states.values())


def run(advance: Advance, sandbox: ProgramRun, result: dict) -> dict:
    """Run the phase in this advance's sandbox (the program has been replayed or has just failed);
    returns the result to commit: the instance's end, or a wait for a rollback's retry."""
    instance = advance.instance
    plan = advance.session.begin_rollbacks()
    if instance.rollback is None:
        marker = {"reason": "errored", "error": result["outcome"]["error"]}
        advance.commit(result["cmds"], begin_rollback=marker)
        instance.rollback = marker
        result = {**result, "cmds": []}
    marker = instance.rollback
    if plan:
        sandbox.rollback(json.dumps({"error": marker["error"], "steps": plan}))
        advance.drain(sandbox)
        after = advance.final(sandbox.finish())
        result = {**after, "cmds": result["cmds"] + after["cmds"]}
    return end(advance, marker, result)


def end(advance: Advance, marker: dict, result: dict) -> dict[str, Any]:
    """The phase's result: finished (every rollback done), or waiting for a rollback's retry."""
    summary = advance.session.rollback_summary()
    if summary["pending"]:
        return {**result, "outcome": None, "waitTypes": None}
    out = {**result, "wake": None, "waitTypes": None, "rollbacks": {k: summary[k] for k in ("completed", "failed")}}
    if marker.get("reason") == "terminate":
        return {**out, "outcome": None, "terminated": True}
    return {**out, "outcome": {"error": marker["error"]}}


def apply(advance: Advance, cmd: dict, key: tuple, at: datetime, new: dict, update, attempts_new: dict,
          update_attempt) -> list[progress.Item]:
    """A rollback command's rows (the rollback's own step row and attempts) and events, in the
    advance's batch (engine.runner.Advance.apply)."""
    t, name, number = cmd["t"], cmd["s"], cmd["a"]
    items: list[progress.Item] = []
    if t == "rstart":
        if key in new or key in advance.records:
            update(key, status=R.RUNNING, attempts=number, wake_at=None)
        else:
            new[key] = {"kind": "do", "status": R.RUNNING, "attempts": number, "started_at": at}
            items.append((E.ROLLBACK_STARTED, name, None, {"occurrence": cmd["o"]}))
        attempts_new[(key, number)] = {"status": Attempt.Status.RUNNING, "started_at": at}
        advance.open_attempts.add(key)
        items.append((E.ROLLBACK_ATTEMPT_STARTED, name, number, None))
    elif t == "rok":
        advance.open_attempts.discard(key)
        update(key, status=R.COMPLETE, finished_at=at, wake_at=None)
        update_attempt(key, number, status=Attempt.Status.COMPLETE, finished_at=at)
        items.append((E.ROLLBACK_COMPLETED, name, number, None))
    else:
        advance.open_attempts.discard(key)
        error = cmd["e"]
        update_attempt(key, number, status=Attempt.Status.ERRORED, error=error, finished_at=at)
        if cmd.get("final"):
            update(key, status=R.ERRORED, error=error, finished_at=at, wake_at=None)
            items.append((E.ROLLBACK_ATTEMPT_ERRORED, name, number, {"error": error}))
            items.append((E.ROLLBACK_FAILED, name, number, {"error": error}))
        else:
            update(key, status=R.RETRYING, error=error, wake_at=clock.from_ms(cmd["wake"]))
            items.append((E.ROLLBACK_ATTEMPT_ERRORED, name, number, {"error": error, "retryDelayMs": cmd["delay"]}))
    return items
