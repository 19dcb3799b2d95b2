"""Replay from stored checkpoints: a generated program (repeated step names, loops, Promise.all,
sleeps and waits between) is run by the engine across many advances, each a fresh sandbox that
replays what the previous ones committed, and must end with exactly the outputs a single
uninterrupted run would produce, every step.do having run exactly once.

The "every batch" mode commits after each command and ends the advance there (FLUSH_EVERY 1, a
slice of 0 s), so the program is replayed from the database after every single step."""
import itertools
import json
from unittest import mock

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine import runner
from engine.models import Attempt, Instance, StepRecord
from engine.services import event_send, instance_create
from tests.conftest import examples

DO_NAMES = st.sampled_from(["a", "b", "c"])  # few names: the same name recurs, so occurrences matter
BLOCKS = st.one_of(
    st.tuples(st.just("do"), DO_NAMES),
    st.tuples(st.just("loop"), DO_NAMES, st.integers(1, 4)),
    st.tuples(st.just("all"), st.lists(DO_NAMES, min_size=1, max_size=3)),
    st.tuples(st.just("sleep"), st.sampled_from(["s", "t"])),
    st.tuples(st.just("sleep_beside"), DO_NAMES),
    st.tuples(st.just("wait"),),
)
_slugs = itertools.count()


def program_of(blocks) -> tuple[str, list]:
    """The program's text and the output a single uninterrupted run returns ("E<n>" for the n-th event)."""
    lines, expected, waits = [], [], 0
    for n, block in enumerate(blocks):
        kind = block[0]
        if kind == "do":
            lines.append(f'out.push(await step.do("{block[1]}", () => "v{n}"));')
            expected.append(f"v{n}")
        elif kind == "loop":
            lines.append(f'for (let i = 0; i < {block[2]}; i++) out.push(await step.do("{block[1]}", () => "v{n}." + i));')
            expected += [f"v{n}.{i}" for i in range(block[2])]
        elif kind == "all":
            calls = ", ".join(f'step.do("{name}", () => "v{n}.{i}")' for i, name in enumerate(block[1]))
            lines.append(f"out.push(...(await Promise.all([{calls}])));")
            expected += [f"v{n}.{i}" for i in range(len(block[1]))]
        elif kind == "sleep":
            lines.append(f'await step.sleep("{block[1]}", "1 minute");')
        elif kind == "sleep_beside":  # a step that runs while a sleep is pending
            lines.append(f'out.push((await Promise.all([step.do("{block[1]}", () => "v{n}"), step.sleep("s", "30 seconds")]))[0]);')
            expected.append(f"v{n}")
        else:
            lines.append('out.push((await step.waitForEvent("w", { type: "go", timeout: "1 hour" })).payload.k);')
            expected.append(f"E{waits}")
            waits += 1
    body = "\n  ".join(lines)
    return f"export default async function run(event, step) {{\n  const out = [];\n  {body}\n  return out;\n}}", expected


def run_to_the_end(tenant, make_workflow, clock, drive, program: str) -> Instance:
    inst = instance_create(tenant=tenant, workflow=make_workflow(program, slug=f"replay-{next(_slugs)}"))
    events = 0
    for _ in range(300):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        assert inst.status == "waiting", inst.status
        if "go" in (inst.wait_types or []):
            event_send(tenant=tenant, instance_id=inst.pk, type="go", payload={"k": f"E{events}"})
            events += 1
        else:
            clock.set(inst.due_at)
    raise AssertionError("the instance did not finish in 300 rounds")


@hypothesis_settings(max_examples=examples(40, explore=500))
@given(blocks=st.lists(BLOCKS, min_size=1, max_size=7), every_batch=st.booleans())
def test_replay_from_stored_checkpoints_gives_the_uninterrupted_result(tenant, make_workflow, clock, drive, blocks, every_batch):
    program, expected = program_of(blocks)
    patches = [mock.patch.object(runner, "FLUSH_EVERY", 1), mock.patch.object(runner, "SLICE_SECONDS", -1)] if every_batch else []
    with contextlib_all(patches):
        inst = run_to_the_end(tenant, make_workflow, clock, drive, program)
    assert inst.status == "complete", (inst.error, program)
    assert json.loads(inst.output) == expected, program
    # Every step.do ran exactly once: one attempt each, never re-run by a replay.
    steps = StepRecord.objects.filter(instance=inst, kind="do")
    assert steps.count() == sum(1 for v in expected if v.startswith("v"))
    assert set(steps.values_list("attempts", flat=True)) <= {1}
    assert Attempt.objects.filter(step__instance=inst).count() == steps.count()
    # Occurrences of each name are numbered 1..n with no gap or repeat.
    for name in set(steps.values_list("name", flat=True)):
        occs = sorted(StepRecord.objects.filter(instance=inst, name=name).values_list("occurrence", flat=True))
        assert occs == list(range(1, len(occs) + 1))


class contextlib_all:
    def __init__(self, managers):
        self.managers = managers

    def __enter__(self):
        for m in self.managers:
            m.__enter__()

    def __exit__(self, *exc):
        for m in reversed(self.managers):
            m.__exit__(*exc)


def test_a_loop_over_one_step_name_replays_each_occurrence_its_own_result(tenant, make_workflow, clock, drive):
    """The shape the property test generates most often, fixed: a loop with a sleep in each turn."""
    inst = run_to_the_end(tenant, make_workflow, clock, drive, """
    export default async function run(event, step) {
      const out = [];
      for (let i = 0; i < 3; i++) {
        out.push(await step.do("x", () => i * 10));
        await step.sleep("nap", "1 minute");
      }
      out.push(...(await Promise.all([step.do("x", () => 30), step.do("x", () => 40)])));
      return out;
    }""")
    assert (inst.status, json.loads(inst.output)) == ("complete", [0, 10, 20, 30, 40])
    assert list(StepRecord.objects.filter(instance=inst, name="x").order_by("occurrence").values_list("output", flat=True)) == \
        ["0", "10", "20", "30", "40"]
