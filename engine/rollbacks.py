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
from typing import TYPE_CHECKING, Any

from .sandbox import ProgramRun

if TYPE_CHECKING:
    from .runner import Advance

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
