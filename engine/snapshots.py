"""Snapshots: an instance's next advance resumes its blocked program from an image of the sandbox
(engine.sandbox.images) instead of replaying its whole record, so waking it costs the same at 100
or 25,000 steps.

Replay stays the source of truth; an image is only a shortcut to the state a replay would rebuild
(the runtime says when its state is one: resume.js), and any doubt means a full replay.
Invariants:
- An image is written only inside the transaction of an advance's final commit (which re-checked
  the lease, its fencing token and the status) that leaves the instance waiting, and is keyed to
  the instance's `last_event_id` as that commit left it. Every change of the record (a batch, a
  pause, a restart, a rollback phase) writes progress events and so moves it: an advance taken
  over, or one that crashed after a commit, never resumes from a stale image. Every other final
  commit deletes the instance's image (finished, paused, errored, or not resumable any more).
- An image is also keyed to what produced it (`key`): the guest build and the runtime's source,
  the workflow version's program, the init the program sees apart from the clock and inbox (the
  plan's limits among it) and the sandbox limits. A missing, damaged or mismatched image, a
  rollback phase, a test instance, trace mode (recoveries) or the deploy check: full replay.
- An image is restored only into a fresh context of the advance of the instance that produced it.
  What the resumed program sends is checked by the protocol like any other message: the session
  holds the host's own records of the steps that are not final (stored beside the image, written
  by the host), and looks up the highest occurrence of a name in the step rows when it needs it.
- Only instances with at least ENGINE_SNAPSHOT_MIN_STEPS steps keep an image: below that, a
  replay costs about what a restore does, and a sleeping instance stays a few rows.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

from .checkpoints import step_rows, step_state, to_ms
from .counters import COUNTERS
from .models import Instance, Snapshot, StepRecord
from .sandbox import ImageError, ProgramRun, StepState, image_build, image_decode, image_encode

if TYPE_CHECKING:
    from .runner import Advance

log = logging.getLogger(__name__)
FINAL = ("complete", "errored")
MAX_IMAGE_BYTES = 8 << 20  # a larger image is not kept: the instance is replayed


def enabled(advance: Advance) -> bool:
    inst = advance.instance
    return (settings.ENGINE_SNAPSHOTS and not inst.test and inst.rollback is None and inst.recoveries < 2
            and not advance.stop_for_rollback)


def key(advance: Advance, program: str) -> str:
    """What an image depends on besides the record: a change of any of it means a replay."""
    if advance.image_key is not None:
        return advance.image_key
    limits = advance.limits
    fixed = [advance.fixed_init([]), limits.time_seconds, limits.memory_bytes, limits.stack_bytes, limits.log_bytes]
    digest = hashlib.sha256(image_build().encode())
    digest.update(hashlib.sha256(program.encode("utf-8", "surrogatepass")).digest())
    digest.update(json.dumps(fixed, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
    advance.image_key = digest.hexdigest()[:32]
    return advance.image_key


def restored(advance: Advance, program: str) -> ProgramRun | None:
    """The sandbox resumed from the instance's image, with the advance's session set up for it;
    None when there is no valid image (the caller replays)."""
    inst = advance.instance
    if inst.started_at is None:
        return None  # never ran: nothing is stored
    row = Snapshot.objects.filter(instance_id=inst.pk).values_list("events", "key", "state", "image").first()
    if row is None:
        return None
    advance.had_image = True
    events, stored_key, state, data = row
    if not enabled(advance) or events != inst.last_event_id or stored_key != key(advance, program):
        COUNTERS.snapshot_stale += 1
        return None
    try:
        image, handle, blocks = image_decode(bytes(data))
        state = json.loads(state) if isinstance(state, str) else state
        pending = {(p["name"], p["occ"]): (p["pk"], StepState(**p["state"])) for p in state["pending"]}
        steps, replay_clock = int(state["steps"]), int(state["clock"])
    except (ImageError, KeyError, TypeError, ValueError) as e:
        log.warning("snapshot of instance %s not restored: %s", inst.pk, e)
        COUNTERS.snapshot_stale += 1
        return None
    inbox = advance.inbox()
    advance.session = advance.new_session({k: s for k, (_, s) in pending.items()}, {}, inbox, count=steps,
                                          lookup=lambda name: highest_occurrence(inst.pk, name))
    delta = json.dumps({"now": to_ms(advance.now), "clock": replay_clock, "inbox": advance.inbox_json(inbox)})
    sandbox = None
    try:
        sandbox = ProgramRun(program=program, init="", host=advance.host, limits=advance.limits, image=(image, handle))
        resumed = sandbox.resume(delta)
    except Exception as e:  # a restore or a resume that fails ran no tenant code: replay instead
        log.warning("snapshot of instance %s not restored: %s", inst.pk, str(e)[:200])
        resumed = False
    if not resumed:
        if sandbox is not None:
            sandbox.close()
        COUNTERS.snapshot_stale += 1
        return None
    for k, (pk, _) in pending.items():
        advance.records[k] = {"pk": pk}
    advance.replay_clock = replay_clock
    advance.resumed = True
    advance.image_blocks = blocks  # the next image reuses what did not change
    COUNTERS.snapshot_resumes += 1
    return sandbox


def highest_occurrence(instance_id: Any, name: str) -> int:
    """The highest occurrence of step `name` in the instance's record (a range of the unique index
    on instance, name, occurrence; raw: the ORM costs more than the read)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(occurrence) FROM {StepRecord._meta.db_table} WHERE instance_id = %s AND name = %s"
                       " AND rollback = %s", [Instance._meta.pk.get_db_prep_value(instance_id, connection), name, False])
        found = cursor.fetchone()[0]
    return found or 0


def load_rest(advance: Advance) -> None:
    """Give a resumed advance's session every step of the record (the rollback phase plans from
    them): rows it has not loaded are final and unchanged by this advance."""
    session = advance.session
    for pk, name, occ, kind, status, attempts, wake, done, output, error, config, rollback in step_rows(advance.instance.pk):
        if rollback or (name, occ) in session.states:
            continue
        session.states[(name, occ)] = step_state(kind, status, attempts, to_ms(wake), pk, config, output)
        advance.records[(name, occ)] = {"pk": pk}


def pending(advance: Advance) -> list[tuple[tuple[str, int], StepState]]:
    return [(k, s) for k, s in advance.session.states.items() if s.status not in FINAL]


def capture(advance: Advance, sandbox: ProgramRun) -> bytes | None:
    """The image to keep of the program the runtime reported resumable, when this instance keeps one."""
    if not enabled(advance) or advance.replay_clock is None or advance.session.count < settings.ENGINE_SNAPSHOT_MIN_STEPS:
        return None
    waiting = pending(advance)
    if len(waiting) != 1 or waiting[0][1].inflight is not None:
        return None  # the host's record must show exactly the one operation the program waits on
    try:
        if not sandbox.forget():
            return None
    except Exception as e:  # a limit hit while dropping the record: the instance waits all the same
        log.warning("no image of instance %s: %s", advance.instance.pk, str(e)[:200])
        return None
    image = image_encode(*sandbox.guest(), advance.image_blocks)
    return image if len(image) <= MAX_IMAGE_BYTES else None


def keep(advance: Advance, status: str | None, *, events: int) -> None:
    """In the transaction of the advance's final commit: store its image, or delete a stored one."""
    inst = advance.instance
    if advance.image is not None and status == Instance.Status.WAITING:
        state = {"steps": advance.session.count, "clock": advance.replay_clock, "pending": [
            {"name": k[0], "occ": k[1], "pk": advance.records[k]["pk"], "state": asdict(s)} for k, s in pending(advance)]}
        fields = {"events": events, "key": key(advance, advance.program), "state": state, "image": advance.image}
        # The commit holds the instance row's lock: no other writer of this row can come between.
        if not Snapshot.objects.filter(instance_id=inst.pk).update(**fields):
            Snapshot.objects.create(instance_id=inst.pk, **fields)
        advance.had_image = True
    elif advance.had_image:
        Snapshot.objects.filter(instance_id=inst.pk).delete()
        advance.had_image = False
