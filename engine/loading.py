"""Loading an advance: the program's init (every checkpoint preloaded) and the host's session of
the instance's steps, which the protocol checks the program's messages against (engine.runner's
Advance inherits these; engine.snapshots loads a resumed advance instead).

Invariants: the session is built from the host's own reads of the step rows and events, never from
anything the sandbox said; step outputs are spliced into the init as the stored JSON text.
"""
from __future__ import annotations

import json
from typing import Any

from . import clock
from .capabilities import CONCURRENT, PURE
from .checkpoints import step_rows, step_state, to_ms
from .models import Event, StepRecord
from .sandbox import ProtocolLimits, Session, StepState
from .seeding import seeded

R = StepRecord.Status


class Loading:
    """What an Advance loads (it provides instance, now, plan, limits, caps, redact, records, and
    `sizes`: the result, log and batch limits, engine.runner's constants)."""

    def init_json(self, *, check: bool = False, before: int | None = None) -> str:
        """Everything the program needs, as one JSON string: checkpoints are preloaded, not fetched.
        `check`: for the safe-deploy check (engine.deploycheck), which replays and runs nothing;
        `before`: only the step rows recorded before that row id (what a restart would keep)."""
        inst = self.instance
        meta, outputs, optional = [], [], []
        states: dict[tuple[str, int], StepState] = {}
        ms: dict[Any, int | None] = {None: None}  # steps committed together share a time: parse it once
        undo: dict[tuple[str, int], StepState] = {}
        replay_clock = clock.to_ms(inst.created_at)  # a replay's logical clock starts there
        for pk, name, occ, kind, status, attempts, wake, done, output, error, config, rollback in step_rows(inst.pk):
            if before is not None and pk >= before:
                break  # rows come in record order
            if wake not in ms:
                ms[wake] = to_ms(wake)
            if done not in ms:
                ms[done] = to_ms(done)
            if rollback:  # a step's rollback: the host's record only (the runtime gets it in the plan)
                self.records[(name, occ, "rollback")] = {"pk": pk}
                undo[(name, occ)] = StepState(kind=kind, status=status, attempts=attempts, wake=ms[wake], seq=pk)
                continue
            self.records[(name, occ)] = {"pk": pk}
            settled = ms[wake] if kind == "sleep" else ms[done]  # where a replay moves the clock
            if status in (R.COMPLETE, R.ERRORED) and settled is not None and settled > replay_clock:
                replay_clock = settled
            states[(name, occ)] = step_state(kind, status, attempts, ms[wake], pk, config, output)
            if inst.test and status == R.COMPLETE and attempts == 0 and seeded(config):
                optional.append(len(meta))  # given to a test instance: not part of the recorded path
            meta.append((name, occ, kind, status, attempts, ms[wake], ms[wake] if kind == "sleep" else ms[done],
                         json.loads(error) if isinstance(error, str) else error))
            outputs.append(output or "null")
        self.replay_clock = None if optional else replay_clock
        inbox = self.inbox()
        self.session = self.new_session(states, undo, inbox)
        head = {**self.fixed_init(optional, check=check), "now": clock.to_ms(self.now), "inbox": self.inbox_json(inbox)}
        # Outputs are stored as the JSON text the program produced: spliced in, never decoded here.
        return (json.dumps(head)[:-1] + ',"records":' + json.dumps(meta)
                + ',"outputs":[' + ",".join(outputs) + "]}")

    def inbox(self) -> list[dict]:
        """The instance's unconsumed events, oldest first."""
        inbox = list(
            Event.objects.filter(instance_id=self.instance.pk, consumed_by__isnull=True)
            .order_by("pk")
            .values("pk", "type", "payload", "created_at")
        )
        self.max_event_id = max((e["pk"] for e in inbox), default=0)
        return inbox

    @staticmethod
    def inbox_json(inbox: list[dict]) -> list[dict]:
        return [{"id": e["pk"], "type": e["type"], "payload": e["payload"], "timestamp": e["created_at"].isoformat()}
                for e in inbox]

    def new_session(self, states: dict, undo: dict, inbox: list[dict], **partial: Any) -> Session:
        inst = self.instance
        max_output, flush_every, max_logs = self.sizes
        return Session(
            limits=ProtocolLimits(now=clock.to_ms(self.now), max_output=max_output, max_logs=max_logs,
                                   max_log_bytes=self.limits.log_bytes, max_commands=flush_every,
                                   capabilities=frozenset(self.caps), concurrent=frozenset(CONCURRENT & set(self.caps)),
                                   max_steps=self.plan.steps_per_instance),
            states=states, redact=self.redact, undo=undo,
            # Rolling back: no command of the program's own steps is accepted from the start.
            plan=[] if inst.rollback is not None else None,
            inbox={e["pk"]: (e["type"], e["payload"], e["created_at"].isoformat()) for e in inbox},
            scope=frozenset(inst.scope) if inst.test and isinstance(inst.scope, list) else None,
            **partial,
        )

    def fixed_init(self, optional: list[int], *, check: bool = False) -> dict:
        """The program's init, but for the records, the clock of the advance and the inbox: what
        does not change between the instance's advances (a snapshot is keyed to it)."""
        inst = self.instance
        max_output, flush_every, max_logs = self.sizes
        return {
            "clock": clock.to_ms(inst.created_at),
            "seed": str(inst.pk),
            "params": inst.params,
            "created": inst.created_at.isoformat(),
            "instanceId": inst.public_key,
            "maxOutput": max_output,
            "memoryMiB": self.limits.memory_bytes >> 20,
            "flushEvery": flush_every,
            "maxLogs": max_logs,
            "timeLimitMs": int(self.limits.time_seconds * 1000),
            "capabilities": sorted(self.caps),
            "pureCapabilities": sorted(PURE & set(self.caps)),
            "concurrentCapabilities": sorted(CONCURRENT & set(self.caps)),
            "maxLogBytes": self.limits.log_bytes,
            # A program that keeps killing its worker is replayed committing each attempt as it
            # starts, so the next crash is pinned on one step and spends that step's retries.
            "trace": inst.recoveries >= 2,
            "optional": optional,
            "scope": sorted(inst.scope) if inst.test and isinstance(inst.scope, list) else None,
            "undo": inst.rollback is not None,
            "maxSteps": self.plan.steps_per_instance,
            "check": check,
        }

