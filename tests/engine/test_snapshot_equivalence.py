"""Resuming from a snapshot is a shortcut to what a replay rebuilds: 200 generated programs (steps,
loops, Promise.all, sleeps, waits for events and their timeouts, retries with delays, failures
caught, the clock and Math.random read between steps, log lines) are each run to the end twice
through the real runner, with the same clock and the same events: once keeping an image of the
sandbox at every wait (engine.snapshots, from the first step on) and once replaying every advance.
Both must record exactly the same steps, attempts, progress events and outcome, and the first must
really have resumed from images (and fallen back to replay where its state was not a replay's)."""
import contextlib
import itertools
import os
import random
import uuid
from datetime import datetime, timezone

import pytest
from django.db import connection

from engine.counters import COUNTERS
from engine.models import Attempt, Instance, ProgressEvent, Snapshot, StepRecord
from engine.services import event_send, instance_create

# The test command's run: 200 programs (seeds 0..199). `EQ_PROGRAMS=2000 EQ_FIRST_SEED=<n>` explores
# further (README, "Tests"); the programs of a seed are the same on every machine.
PROGRAMS = int(os.environ.get("EQ_PROGRAMS", "200"))
FIRST_SEED = int(os.environ.get("EQ_FIRST_SEED", "0"))
START = datetime(2026, 3, 1, tzinfo=timezone.utc)
_slugs = itertools.count()


def block(rng: random.Random, n: int) -> str:
    name = rng.choice("abc")
    kind = rng.choices(
        ["do", "loop", "all", "sleep", "sleep_loop", "sleep_beside", "wait", "wait_timeout", "retry", "fail",
         "clock", "random", "log", "clock_step"],
        weights=[5, 2, 2, 4, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1])[0]
    if kind == "do":
        return f'out.push(await step.do("{name}", () => "v{n}"));'
    if kind == "loop":
        return f'for (let i = 0; i < {rng.randint(1, 4)}; i++) out.push(await step.do("{name}", () => "v{n}." + i));'
    if kind == "all":
        calls = ", ".join(f'step.do("{rng.choice("abc")}", () => "v{n}.{i}")' for i in range(rng.randint(1, 3)))
        return f"out.push(...(await Promise.all([{calls}])));"
    if kind == "sleep":
        return f'await step.sleep("{rng.choice("st")}", "{rng.choice([1, 5, 30])} minutes");'
    if kind == "sleep_loop":
        return (f'for (let i = 0; i < {rng.randint(1, 3)}; i++) {{ out.push(await step.do("{name}", () => i)); '
                f'await step.sleep("nap", "1 minute"); }}')
    if kind == "sleep_beside":
        return f'out.push((await Promise.all([step.do("{name}", () => "v{n}"), step.sleep("s", "30 seconds")]))[0]);'
    if kind == "wait":
        return 'out.push((await step.waitForEvent("w", { type: "go", timeout: "1 hour" })).payload.k);'
    if kind == "wait_timeout":
        return 'try { await step.waitForEvent("t", { type: "never", timeout: "10 minutes" }); } catch (e) { out.push(e.name); }'
    if kind == "retry":  # fails its first attempts, then succeeds after a delay
        fails = rng.randint(1, 2)
        return (f'out.push(await step.do("r{n}", {{ retries: {{ limit: 3, delay: "{rng.choice([1, 2])} minutes", backoff: "constant" }} }}, '
                f'(ctx) => {{ if (ctx.attempt <= {fails}) throw new Error("try " + ctx.attempt); return "r" + ctx.attempt; }}));')
    if kind == "fail":
        return (f'try {{ await step.do("f{n}", {{ retries: {{ limit: 1, delay: "1 minute" }} }}, () => {{ throw new Error("no"); }}); }} '
                f'catch (e) {{ out.push(e.message); }}')
    if kind == "clock":
        return "out.push(Date.now() % 10000000);"
    if kind == "random":
        return "out.push(Math.floor(Math.random() * 1000));"
    if kind == "log":
        return f'console.log("block {n}", out.length);'
    return f'out.push(await step.do("{name}", () => Date.now() % 10000000));'


def program(seed: int) -> str:
    rng = random.Random(seed)
    body = "\n  ".join(block(rng, n) for n in range(rng.randint(2, 9)))
    return f"export default async function run(event, step) {{\n  const out = [];\n  {body}\n  return out;\n}}"


@contextlib.contextmanager
def instance_id(value: uuid.UUID):
    """New instances get this id: both runs of a program are the same instance to it (Math.random
    is seeded by the instance's id). The previous one is deleted first."""
    field = Instance._meta.get_field("id")
    default = field.default
    field.default = lambda: value
    field.__dict__.pop("_get_default", None)  # Django caches the default's callable
    try:
        yield
    finally:
        field.default = default
        field.__dict__.pop("_get_default", None)


def run(tenant, make_workflow, clock, drive, text: str, ident: uuid.UUID) -> Instance:
    clock.set(START)
    Instance.objects.filter(pk=ident).delete()
    with instance_id(ident):
        inst = instance_create(tenant=tenant, workflow=make_workflow(text, slug=f"eq-{next(_slugs)}"))
    assert inst.pk == ident
    events = 0
    for _ in range(200):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        assert inst.status == "waiting", (inst.status, text)
        if "go" in (inst.wait_types or []):
            event_send(tenant=tenant, instance_id=inst.pk, type="go", payload={"k": f"E{events}"})
            events += 1
        else:
            clock.set(inst.due_at)
    raise AssertionError(f"the instance did not finish in 200 rounds:\n{text}")


def record(inst: Instance) -> dict:
    """Everything the instance recorded, in record order, without row ids or its own id."""
    steps = list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list(
        "name", "occurrence", "kind", "status", "attempts", "config", "output", "error", "wake_at", "started_at",
        "finished_at", "rollback"))
    attempts = list(Attempt.objects.filter(step__instance=inst).order_by("pk").values_list(
        "step__name", "step__occurrence", "number", "status", "error", "started_at", "finished_at"))
    progress = list(ProgressEvent.objects.filter(instance=inst).order_by("event_id").values_list(
        "event_id", "count", "created_at", "events", "lifecycle"))
    return {"instance": (inst.status, inst.output, inst.error, inst.finished_at), "steps": steps,
            "attempts": attempts, "progress": progress}


def first_difference(a, b) -> str:
    if not isinstance(a, list) or not isinstance(b, list):
        return f"{a!r}\n{b!r}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"at {i}:\n{x!r}\n{y!r}"
    return f"lengths {len(a)} and {len(b)}"


@pytest.mark.timeout(1800)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the sandbox and the runner, whatever the database: run once, "
                    "in the embedded suite (tests/engine/test_snapshots.py stores and reads images on both)")
def test_resumed_from_snapshots_records_exactly_what_replay_records(tenant, make_workflow, clock, drive, settings):
    settings.ENGINE_SNAPSHOT_MIN_STEPS = 0
    resumed_programs = 0
    resumes = 0
    for seed in range(FIRST_SEED, FIRST_SEED + PROGRAMS):
        text = program(seed)
        settings.ENGINE_SNAPSHOTS = True
        before = COUNTERS.snapshot_resumes
        ident = uuid.UUID(int=seed + 1)
        a = record(run(tenant, make_workflow, clock, drive, text, ident))
        used = COUNTERS.snapshot_resumes - before
        assert not Snapshot.objects.filter(instance_id=ident).exists()  # deleted when it finished
        settings.ENGINE_SNAPSHOTS = False
        before = COUNTERS.snapshot_resumes
        b = record(run(tenant, make_workflow, clock, drive, text, ident))
        assert COUNTERS.snapshot_resumes == before
        for part in a:
            assert a[part] == b[part], f"program {seed} ({used} resumes): {part} differ\n{text}\n{first_difference(a[part], b[part])}"
        resumes += used
        resumed_programs += used > 0
        Instance.objects.filter(pk=ident).delete()  # the tables stay small (PostgreSQL plans without statistics here)
    # Most generated programs sleep or wait somewhere with a state a replay rebuilds.
    print(f"{resumed_programs} of {PROGRAMS} programs resumed from images, {resumes} resumes in all")
    assert resumed_programs >= PROGRAMS // 2, (resumed_programs, resumes)
