"""Snapshots fall back to replay whenever the stored image may not be the program's state: damaged,
keyed to another program, runtime or plan, older than the record (a pause, a crash after a commit,
a lease taken over), or the instance rolling back. Each case ends with the output of a plain run and
every step run exactly once; an instance below the size threshold stores no image."""
import json
import zlib
from unittest import mock

import pytest

from engine import runner, services, snapshots
from engine.counters import COUNTERS
from engine.models import Attempt, Instance, Snapshot, StepRecord

PROGRAM = """
export default async function run(event, step) {
  const out = [];
  for (let i = 0; i < 4; i++) {
    out.push(await step.do(`s${i}`, () => i));
    await step.sleep(`nap${i}`, "1 hour");
  }
  return out;
}"""
WORKER = "w1"


@pytest.fixture
def images(settings):
    settings.ENGINE_SNAPSHOT_MIN_STEPS = 0


@pytest.fixture
def instance(tenant, make_workflow, clock, images):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PROGRAM))
    assert runner.advance(inst.pk, worker=WORKER) == "released"
    assert Snapshot.objects.filter(instance_id=inst.pk).exists()
    return inst


def wake(inst, clock, worker: str = WORKER) -> str:
    inst.refresh_from_db()
    clock.set(max(clock.now(), inst.due_at))
    return runner.advance(inst.pk, worker=worker)


def finish(inst, clock) -> Instance:
    for _ in range(20):
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            break
        wake(inst, clock)
    assert (inst.status, json.loads(inst.output)) == ("complete", [0, 1, 2, 3])
    # Every step ran once: one attempt each, and no image is left behind.
    assert list(Attempt.objects.filter(step__instance=inst).values_list("number", flat=True)) == [1, 1, 1, 1]
    assert not Snapshot.objects.filter(instance_id=inst.pk).exists()
    return inst


def counts():
    return COUNTERS.snapshot_resumes, COUNTERS.snapshot_stale


def test_a_waiting_instance_resumes_from_its_image_each_time(instance, clock):
    before = counts()
    finish(instance, clock)
    assert (COUNTERS.snapshot_resumes - before[0], COUNTERS.snapshot_stale - before[1]) == (4, 0)


def test_an_instance_below_the_threshold_keeps_no_image(tenant, make_workflow, clock, settings):
    settings.ENGINE_SNAPSHOT_MIN_STEPS = 3
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PROGRAM))
    runner.advance(inst.pk, worker=WORKER)
    assert not Snapshot.objects.filter(instance_id=inst.pk).exists()  # 2 steps
    wake(inst, clock)
    assert Snapshot.objects.filter(instance_id=inst.pk).exists()  # 4 steps
    finish(inst, clock)


@pytest.mark.parametrize("damage", [
    b"not zlib at all",
    zlib.compress(b"QJI1" + bytes(100)),  # a valid stream of a bad layout
    "truncated",
    "flipped",
])
def test_a_damaged_image_is_replayed(instance, clock, damage):
    image = bytes(Snapshot.objects.get(instance_id=instance.pk).image)
    if damage == "truncated":
        damage = image[: len(image) // 2]
    elif damage == "flipped":
        damage = image[:40] + bytes([image[40] ^ 0xFF]) + image[41:]
    Snapshot.objects.filter(instance_id=instance.pk).update(image=damage)
    before = counts()
    assert wake(instance, clock) == "released"
    assert counts() == (before[0], before[1] + 1)  # replayed, and a fresh image was kept
    assert bytes(Snapshot.objects.get(instance_id=instance.pk).image) != damage
    finish(instance, clock)


def test_an_image_keyed_to_something_else_is_replayed(instance, clock):
    Snapshot.objects.filter(instance_id=instance.pk).update(key="0" * 32)
    before = counts()
    wake(instance, clock)
    assert counts() == (before[0], before[1] + 1)
    finish(instance, clock)


def test_a_change_of_plan_limits_means_replay(instance, clock, tenant):
    tenant.limits = {"sandbox_memory_mb": 48}
    tenant.save()
    before = counts()
    wake(instance, clock)
    assert counts() == (before[0], before[1] + 1)
    finish(instance, clock)


def test_an_image_without_the_host_state_is_replayed(instance, clock):
    Snapshot.objects.filter(instance_id=instance.pk).update(state={"steps": 2})
    before = counts()
    wake(instance, clock)
    assert counts() == (before[0], before[1] + 1)
    finish(instance, clock)


def test_a_pause_and_resume_between_advances_means_replay(instance, clock, tenant):
    services.instance_pause(tenant=tenant, instance_id=instance.pk)
    services.instance_resume(tenant=tenant, instance_id=instance.pk)
    before = counts()
    wake(instance, clock)
    assert counts() == (before[0], before[1] + 1)  # the pause wrote events: the image is older than the record
    finish(instance, clock)


class Crash(BaseException):
    """The worker dies (not an Exception: nothing in the engine catches it)."""


def test_a_crash_after_a_commit_never_resumes_from_the_older_image(instance, clock):
    # The wake commits a batch (each command on its own), then dies before its final commit.
    commit = runner.Advance.commit

    def dying(self, cmds, **final):
        if final:
            raise Crash()
        return commit(self, cmds, **final)

    with mock.patch.object(runner, "FLUSH_EVERY", 1), mock.patch.object(runner.Advance, "commit", dying):
        with pytest.raises(Crash):
            wake(instance, clock)
    assert StepRecord.objects.filter(instance=instance, name="s1").exists()  # committed before the crash
    instance.refresh_from_db()
    clock.set(instance.due_at)  # the lease expires
    before = counts()
    wake(instance, clock, worker="w2")
    assert counts() == (before[0], before[1] + 1)  # the record moved on: replayed
    finish(instance, clock)


def test_a_failed_final_commit_writes_no_image(instance, clock):
    # The final commit and the image are one transaction: if storing the image fails, nothing of
    # the commit is written, and the next advance finds the record and the image as they were.
    events = Snapshot.objects.get(instance_id=instance.pk).events
    with mock.patch.object(snapshots, "keep", side_effect=Crash()):
        with pytest.raises(Crash):
            wake(instance, clock)
    assert Snapshot.objects.get(instance_id=instance.pk).events == events
    instance.refresh_from_db()
    clock.set(instance.due_at)
    finish(instance, clock)


def test_a_lease_taken_over_mid_advance_writes_nothing_and_the_new_holder_resumes(instance, clock):
    # Worker w1 resumes the instance; before its first commit its lease expires and w2 takes the
    # instance over and runs a whole advance. w1's commit is refused (fenced): it writes no image,
    # and the next wake resumes from w2's.
    commit = runner.Advance.commit
    taken = []

    def slow(self, cmds, **final):
        if self.worker == WORKER and not taken:
            taken.append(True)
            Instance.objects.filter(pk=self.instance.pk).update(due_at=clock.now())  # the lease has expired
            assert runner.advance(self.instance.pk, worker="w2") == "released"
        return commit(self, cmds, **final)

    before = counts()
    with mock.patch.object(runner.Advance, "commit", slow):
        assert wake(instance, clock) == "lost"
    assert COUNTERS.snapshot_resumes - before[0] == 2  # both resumed from the same, still valid image
    kept = Snapshot.objects.get(instance_id=instance.pk)
    instance.refresh_from_db()
    assert kept.events == instance.last_event_id  # w2's image, keyed to w2's commit
    before = counts()
    wake(instance, clock)
    assert counts() == (before[0] + 1, before[1])
    finish(instance, clock)


def test_a_rollback_phase_is_replayed(tenant, make_workflow, clock, images):
    program = """
    export default async function run(event, step) {
      await step.do("book", () => 1, { rollback: async () => { console.log("undone"); } });
      await step.sleep("nap", "1 hour");
      await step.do("pay", () => 2);
      return 3;
    }"""
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(program, slug="saga"))
    runner.advance(inst.pk, worker=WORKER)
    assert Snapshot.objects.filter(instance_id=inst.pk).exists()
    services.instance_terminate(tenant=tenant, instance_id=inst.pk, rollback=True)
    before = counts()
    inst.refresh_from_db()
    clock.set(inst.due_at)
    runner.advance(inst.pk, worker=WORKER)
    inst.refresh_from_db()
    assert inst.status == "terminated"
    assert counts()[0] == before[0]
    assert not Snapshot.objects.filter(instance_id=inst.pk).exists()


def test_an_error_after_a_resume_runs_the_rollbacks_of_every_step(tenant, make_workflow, clock, images):
    # A resumed advance holds only the pending steps: when the program then fails, the host loads
    # the others to plan the rollbacks (the first step's, registered two advances before).
    program = """
    export default async function run(event, step) {
      await step.do("book", () => 1, { rollback: async () => {} });
      await step.sleep("nap", "1 hour");
      await step.do("charge", () => 2, { rollback: async () => {} });
      await step.sleep("nap", "1 hour");
      throw new Error("declined");
    }"""
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(program, slug="saga2"))
    runner.advance(inst.pk, worker=WORKER)
    before = counts()
    for _ in range(5):
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            break
        wake(inst, clock)
    assert COUNTERS.snapshot_resumes - before[0] >= 2
    assert inst.status == "errored", inst.error
    undone = set(StepRecord.objects.filter(instance=inst, rollback=True).values_list("name", "status"))
    assert undone == {("book", "complete"), ("charge", "complete")}


def test_a_resumed_session_refuses_what_a_full_one_refuses():
    """Resumed, the host holds only the pending steps and looks the rest up: a command naming a
    final step it did not load, an occurrence that does not follow the record's, or a step past
    the plan's limit is refused all the same."""
    from engine.sandbox import ProtocolLimits, ProtocolViolation, Session, StepState

    recorded = {"a": 3, "nap": 1}
    session = Session(limits=ProtocolLimits(now=1000, max_output=1 << 20, max_logs=10, max_log_bytes=1000,
                                            max_commands=100, capabilities=frozenset(), max_steps=6),
                      states={("nap", 1): StepState(kind="sleep", status="waiting", wake=900, seq=7)}, inbox={},
                      count=5, lookup=lambda name: recorded.get(name, 0))
    refused = [
        {"t": "ok", "s": "a", "o": 3, "a": 1, "v": "1"},  # a final step: never changes again
        {"t": "start", "s": "a", "o": 3, "a": 1, "c": {}},  # it exists
        {"t": "start", "s": "a", "o": 5, "a": 1, "c": {}},  # 4 is next
        {"t": "sleep", "s": "b", "o": 2, "wake": 2000},  # b has no occurrence yet
    ]
    for cmd in refused:
        with pytest.raises(ProtocolViolation):
            session.commands([cmd])
    assert session.commands([{"t": "slept", "s": "nap", "o": 1}])  # the pending sleep is due
    config = {"retries": {"limit": 0, "delay": 0, "backoff": "constant"}, "timeout": 1000}
    assert session.commands([{"t": "start", "s": "a", "o": 4, "a": 1, "c": config}])  # the sixth step
    with pytest.raises(ProtocolViolation, match="plan's limit"):
        session.commands([{"t": "sleep", "s": "b", "o": 1, "wake": 2000}])


def test_an_image_restored_and_taken_again_holds_the_same_memory(instance):
    """Re-encoding reuses the stored windows that did not change: the image is the one a fresh
    encoding of the same memory gives (windows are compressed alike), and restoring it writes the
    stored pages (only the guest's stack below its pointer is scratch that calls overwrite)."""
    from engine.sandbox import ProgramRun, image_decode, image_encode

    stored = bytes(Snapshot.objects.get(instance_id=instance.pk).image)
    image, handle, blocks = image_decode(stored)
    advance = runner.Advance(instance=Instance.objects.get(pk=instance.pk), worker="x", now=instance.created_at)
    run = ProgramRun(program="", init="", host=lambda text: {"stop": True}, limits=advance.limits, image=(image, handle))
    try:
        again = image_encode(*run.guest(), blocks)
        assert again == image_encode(*run.guest())
        restored, _, _ = image_decode(again)
        above = lambda chunks: b"".join(data[max(0, image.stack_pointer - offset):] for offset, data in chunks)  # noqa: E731
        assert above(restored.chunks) == above(image.chunks)
    finally:
        run.close()


def test_a_resumed_session_answers_a_step_names_occurrence_from_the_record():
    """After forget() the runtime asks the host for a name's occurrence: the answer is the host's
    own record (looked up once, then followed as steps start), and a question that is not a step
    name is refused like any bad command."""
    from engine.sandbox import ProtocolLimits, ProtocolViolation, Session

    looked = []
    session = Session(limits=ProtocolLimits(now=1000, max_output=1 << 20, max_logs=10, max_log_bytes=1000,
                                            max_commands=100, capabilities=frozenset(), max_steps=100),
                      states={}, inbox={}, count=5, lookup=lambda name: looked.append(name) or {"a": 3}.get(name, 0))
    assert session.message(json.dumps({"cmds": [], "occ": "a"})).occ == 3
    assert session.message(json.dumps({"cmds": [], "occ": "b"})).occ == 0
    config = {"retries": {"limit": 0, "delay": 0, "backoff": "constant"}, "timeout": 1000}
    session.commands([{"t": "start", "s": "a", "o": 4, "a": 1, "c": config}])
    assert session.message(json.dumps({"cmds": [], "occ": "a"})).occ == 4
    assert looked == ["a", "b"]
    for bad in (7, "", "x" * 300, None):
        with pytest.raises(ProtocolViolation):
            session.message(json.dumps({"cmds": [], "occ": bad}))
    # Each question uses up a step: more than the plan has left (100 - 5) are refused.
    session.asked = 0
    for n in range(95):
        session.message(json.dumps({"cmds": [], "occ": f"n{n}"}))
    with pytest.raises(ProtocolViolation, match="occurrence questions"):
        session.message(json.dumps({"cmds": [], "occ": "one-more"}))
    # A program that holds its record (a replay) never asks.
    full = Session(limits=session.limits, states={}, inbox={})
    with pytest.raises(ProtocolViolation, match="holds its record"):
        full.message(json.dumps({"cmds": [], "occ": "a"}))


LONG = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < event.payload.steps; i++) total += await step.do(`s${i}`, () => i);
  for (let n = 0; n < 3; n++) {
    await step.sleep("nap", "1 hour");
    total += await step.do(`s${n}`, () => 1000);  // a name the record has: its next occurrence
  }
  return total;
}"""


def test_an_image_holds_the_programs_state_not_its_history(tenant, make_workflow, clock, images):
    """The runtime drops the replay's record before an image is taken and the allocator's free
    memory is not kept: an instance with ten times the steps stores an image of about the same
    size, and resumed, it names the steps that follow by the record's occurrences."""
    tenant.limits = {"steps_per_instance": 25_000}
    tenant.save()
    wf = make_workflow(LONG)
    sizes = {}
    for steps in (150, 3000):
        inst = services.instance_create(tenant=tenant, workflow=wf, params={"steps": steps})
        while runner.advance(inst.pk, worker=WORKER) == "due":
            pass
        resumes = COUNTERS.snapshot_resumes
        for _ in range(10):
            inst.refresh_from_db()
            if inst.status in Instance.FINISHED:
                break
            wake(inst, clock)
            if Snapshot.objects.filter(instance_id=inst.pk).exists():  # taken again by the resumed program
                sizes[steps] = len(Snapshot.objects.get(instance_id=inst.pk).image)
        assert COUNTERS.snapshot_resumes - resumes == 3
        inst.refresh_from_db()
        assert (inst.status, json.loads(inst.output)) == ("complete", sum(range(steps)) + 3000)
        assert list(StepRecord.objects.filter(instance=inst, name="s1").order_by("occurrence")
                    .values_list("occurrence", flat=True)) == [1, 2]
    # Where the allocator placed what lives varies the size a little (from 147 to 155 KB measured
    # between 150 and 10,000 steps); the record kept would add about 49 bytes a step (+140 KB here).
    assert sizes[3000] < sizes[150] * 1.3, sizes


def test_free_heap_memory_is_neutral_only_when_the_heap_walks_as_the_allocator_says(instance):
    """neutral() finds the allocator's state in a fresh context's memory, walks a real blocked
    program's heap to its end, and makes free chunks' bytes the fresh ones; a heap whose walk does
    not agree with the allocator (a damaged size word) is left exactly as it is."""
    import struct

    from engine.sandbox import ProgramRun, image_decode
    from engine.sandbox.images import TOP, U32, base, heap_state, memory_of, neutral

    fresh = base()
    state = heap_state(fresh)
    assert state >= 0
    image, handle, _ = image_decode(bytes(Snapshot.objects.get(instance_id=instance.pk).image))
    advance = runner.Advance(instance=Instance.objects.get(pk=instance.pk), worker="x", now=instance.created_at)
    run = ProgramRun(program="", init="", host=lambda text: {"stop": True}, limits=advance.limits, image=(image, handle))
    try:
        memory = bytearray(memory_of(run.guest()[0]))
    finally:
        run.close()
    # Garbage in the free top chunk (the stored image was encoded neutral already): made fresh.
    top = U32.unpack_from(memory, state + TOP)[0]
    memory[top + 32:top + 4096] = b"\xa5" * (4096 - 32)
    kept = bytes(memory)
    assert neutral(memory, fresh, state)
    assert memory[top + 32:top + 4096] == (fresh[top + 32:top + 4096] + bytes(4096))[:4096 - 32]
    seg = U32.unpack_from(memory, state + 448)[0]
    assert memory[:seg] == kept[:seg]  # below the heap (static data, the stack) nothing changes
    damaged = bytearray(kept)
    first = U32.unpack_from(damaged, state + 448)[0] + 8 + 4  # the first chunk's size word
    struct.pack_into("<I", damaged, first, U32.unpack_from(damaged, first)[0] + 8)
    before = bytes(damaged)
    assert not neutral(damaged, fresh, state)
    assert bytes(damaged) == before
    assert not neutral(bytearray(kept), fresh, -1)


PAST_THE_LIMIT = """
export default async function run(event, step) {
  await step.do("a", () => 1);
  await step.sleep("nap", "1 hour");
  let refused = 0;
  for (let i = 0; i < 5000; i++) {
    try { await step.do(`n${i}`, () => i); } catch (e) { if (e.name === "StepLimitError") refused += 1; }
  }
  return refused;
}"""


def test_a_resumed_program_looping_past_the_step_limit_asks_the_host_nothing_more(tenant, make_workflow, clock, images):
    """Each occurrence question precedes a new step: a resumed program that loops on steps the
    plan refuses makes no host call for them (the plan's 5 steps: 3 more are asked, then none)."""
    from engine.sandbox import protocol

    tenant.limits = {"steps_per_instance": 5}
    tenant.save()
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PAST_THE_LIMIT))
    assert runner.advance(inst.pk, worker=WORKER) == "released"
    questions = []
    real = protocol.Session.message

    def message(self, raw):
        if '"occ"' in raw:
            questions.append(raw)
        return real(self, raw)

    resumes = COUNTERS.snapshot_resumes
    with mock.patch.object(protocol.Session, "message", message):
        wake(inst, clock)
    assert COUNTERS.snapshot_resumes - resumes == 1
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", 5000 - 3)
    assert len(questions) == 3
