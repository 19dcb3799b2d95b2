"""The safe-deploy check: would a workflow's instances in flight keep their path on a new program?

Each instance's stored history is replayed against the new program in a fresh sandbox, under the
tenant's normal limits, exactly as an advance would replay it, but in check mode: the runtime
runs no step function, takes no new step and calls no capability (a capability call stops that
instance's check), and the host writes nothing. An instance *continues* when the replay reaches
every recorded step before the program would take a step the record does not have; it
*diverges* at the first recorded step it does not reach (expected), naming the step the program
takes instead (got; none when it ends or blocks first); it *fails* when the program throws on
the recorded path, cannot load or hits a limit. The verdict is the one production would reach:
the runner ends a diverging instance with a NonDeterminismError (engine.sandbox.protocol).

Which history: instances waiting (sleeping, waiting for an event or a retry), paused, queued or
running keep every checkpoint; an errored one keeps what "restart from the failed step" keeps
(the records before the failed step's first record). Invariants: reads only; one instance's
result never depends on another's; at most `limit` instances are replayed (oldest first).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from . import clock
from .models import Instance, StepRecord
from .programs import program_text
from .runner import Advance
from .sandbox import ProgramLoadError, ProgramRun, ProtocolViolation, SandboxLimit

S = Instance.Status
# The instances a new version concerns: pinned ones in flight, and failed ones a restart could move.
IN_FLIGHT = (S.QUEUED, S.RUNNING, S.WAITING, S.PAUSED, S.WAITING_FOR_PAUSE)
RESTARTABLE = (S.ERRORED,)
CHECK_LIMIT = 500


def _kept_before(instance: Instance) -> int | None:
    """For an errored instance, the first row a restart from its failed step deletes (0: all of
    them, when no step failed and the restart starts over); None for the others (all kept)."""
    if instance.status not in RESTARTABLE:
        return None
    rows = StepRecord.objects.filter(instance=instance)
    failed = rows.filter(status=StepRecord.Status.ERRORED).order_by("pk").values_list("name", flat=True).first()
    if failed is None:
        return 0
    return rows.filter(name=failed).order_by("pk").values_list("pk", flat=True).first()


def instance_check(*, instance: Instance, program: str) -> dict:
    """Replay one instance's history against `program`; its verdict (see the module docstring)."""
    advance = Advance(instance=instance, worker="deploy-check", now=clock.now())
    init = advance.init_json(check=True, before=_kept_before(instance))
    session = advance.session
    result: dict[str, Any] = {"checkpoints": len(session.states)}
    stopped: list[str] = []

    def host(text: str) -> dict:
        message = session.message(text)  # checked like any message; nothing of it is written
        if message.cap:
            stopped.append(message.cap[0])
            return {"stop": True}
        return {}

    sandbox = ProgramRun(program=program, init=init, host=host, limits=advance.limits)
    try:
        sandbox.start()
        sandbox.drain()
        if sandbox.timed_out():
            raise SandboxLimit("TimeoutError", f"exceeded the time limit of {advance.limits.time_seconds:g} s")
        final = session.final(sandbox.finish())
    except SandboxLimit as e:
        return {**result, "verdict": "fails", "error": {"name": e.name, "message": f"the replay {e.message}"}}
    except ProgramLoadError as e:
        return {**result, "verdict": "fails", "error": {"name": "ProgramError", "message": str(e)[:1000]}}
    except ProtocolViolation as e:
        return {**result, "verdict": "fails", "error": {"name": "ProtocolError", "message": str(e)[:1000]}}
    finally:
        sandbox.close()
    if stopped:
        return {**result, "verdict": "fails", "error": {
            "name": "CheckStopped", "message": f"the program calls step.{stopped[0]} outside a recorded step: the check runs no capability"}}
    if final.diverged and (final.diverged[2] is not None or not (final.outcome and "error" in final.outcome)):
        name, _occ, got, _got_occ, _kind = final.diverged
        return {**result, "verdict": "diverges", "step": name, "expected": name, "got": got,
                "error": session.divergence_error(final.diverged)}
    if final.outcome and "error" in final.outcome:
        return {**result, "verdict": "fails", "error": final.outcome["error"]}
    return {**result, "verdict": "continues"}


def version_check(*, tenant: Any, workflow_id: Any, version: Any, limit: int = CHECK_LIMIT) -> dict:
    """Check `version` (a WorkflowVersion of the workflow, already read through the tenant) against
    the workflow's in-flight and errored instances on its other versions."""
    program = program_text(version)
    candidates = (Instance.objects.filter(tenant=tenant, workflow_id=workflow_id, status__in=IN_FLIGHT + RESTARTABLE)
                  .exclude(version_id=version.pk).select_related("tenant", "version")
                  .defer("version__program", "version__graph").order_by("created_at", "key"))
    rows = list(candidates[:limit + 1])
    truncated = len(rows) > limit
    reports = []
    for instance in rows[:limit]:
        report = instance_check(instance=instance, program=program)
        reports.append({"id": str(instance.pk), "key": instance.public_key, "status": instance.status,
                        "version": instance.version.number, **report})
    summary = {"in_flight": Counter(), "restartable": Counter()}
    for r in reports:
        group = summary["restartable" if r["status"] in RESTARTABLE else "in_flight"]
        group[r["verdict"]] += 1
        if r["verdict"] == "diverges":
            group[f"at:{r['step']}"] += 1

    def figures(counter: Counter) -> dict:
        return {"total": sum(counter[v] for v in ("continues", "diverges", "fails")),
                "continues": counter["continues"], "diverges": counter["diverges"], "fails": counter["fails"],
                "diverges_at": {k[3:]: n for k, n in sorted(counter.items()) if k.startswith("at:")}}

    return {"version": version.number, "checked": len(reports), "truncated": truncated,
            "in_flight": figures(summary["in_flight"]), "restartable": figures(summary["restartable"]),
            "versions": sorted({r["version"] for r in reports}), "instances": reports}
