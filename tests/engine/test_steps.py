"""step.do, sleeps, determinism and results: the program contract, run in the real sandbox."""
import hashlib
import json

from engine import progress, selectors, services
from builder.models import WorkflowVersion
from engine.models import Instance, ProgressEvent, StepRecord


def status(tenant, instance):
    return selectors.instance_status(tenant=tenant, instance_id=instance.pk)


def test_it_runs_a_program_to_completion(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const a = await step.do("double", async () => event.payload.n * 2);
      const b = await step.do("add", () => a + 1);
      return { a, b, id: event.instanceId };
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf, id="order-1", params={"n": 20})
    assert inst.status == "queued"
    drive()
    s = status(tenant, inst)
    assert s["status"] == "complete"
    assert s["output"] == {"a": 40, "b": 41, "id": "order-1"}
    assert [(x["name"], x["status"], x["attempts"], x["output"]) for x in s["steps"]] == [
        ("double", "complete", 1, 40), ("add", "complete", 1, 41)]


def test_memoized_steps_are_not_rerun_on_replay(tenant, clock, make_workflow, drive, side_effects):
    wf = make_workflow("""
    export default async function run(event, step) {
      const a = await step.do("charge", () => step.sideEffect({ label: "charge" }));
      await step.sleep("cool_off", "1 hour");
      const b = await step.do("ship", () => step.sideEffect({ label: "ship" }));
      return [a, b];
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    assert inst.due_at == clock.now().replace(hour=1)
    assert side_effects("charge") == 1 and side_effects("ship") == 0
    drive()  # not due yet: nothing happens
    assert side_effects("ship") == 0
    clock.advance(hours=1)
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete"
    assert json.loads(inst.output) == [{"done": "charge"}, {"done": "ship"}]
    assert side_effects("charge") == 1 and side_effects("ship") == 1


def test_a_sleeping_instance_holds_only_rows(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.sleep("nap", "3 days");
      await step.sleepUntil("until", new Date(Date.now() + 86400000));
      return "rested";
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.lease_owner) == ("waiting", "")
    assert StepRecord.objects.get(instance=inst, name="nap").status == "waiting"
    clock.advance(days=3)
    drive()
    inst.refresh_from_db()
    # Date.now() after the sleep is the sleep's wake time, so "until" is one day later.
    assert inst.due_at == clock.now().replace(day=5)
    clock.advance(days=1)
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete"


def test_sleep_longer_than_365_days_is_a_clear_error(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) { await step.sleep("forever", "400 days"); }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert "over 365 days" in inst.error["message"] and "forever" in inst.error["message"]


def test_promise_all_runs_steps_concurrently(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const results = await Promise.all([1, 2, 3].map((n) => step.do(`item_${n}`, async () => n * n)));
      const [_, slow] = await Promise.all([step.sleep("a", "1 minute"), step.do("during_sleep", () => "ran")]);
      return { results, slow };
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    # The step beside the sleep ran in the first advance, before the sleep finished.
    assert StepRecord.objects.get(instance=inst, name="during_sleep").status == "complete"
    clock.advance(minutes=1)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == {"results": [1, 4, 9], "slow": "ran"}


def test_repeated_step_names_are_told_apart_by_occurrence(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const out = [];
      for (let i = 0; i < 3; i++) out.push(await step.do("poll", () => i));
      return out;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == [0, 1, 2]
    assert list(StepRecord.objects.filter(instance=inst).values_list("occurrence", flat=True)) == [1, 2, 3]


def test_date_and_random_are_deterministic_on_replay(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const r = Math.random(), t = Date.now();
      const first = await step.do("first", () => [r, t]);
      await step.sleep("nap", "1 minute");
      // The replay recomputes r and t: they must be what the first run saw.
      const again = await step.do("again", () => [r, t]);
      return { first, again, later: Date.now() };
    }""")
    a = services.instance_create(tenant=tenant, workflow=wf)
    b = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    clock.advance(minutes=5)
    drive()
    out_a = json.loads(Instance.objects.get(pk=a.pk).output)
    out_b = json.loads(Instance.objects.get(pk=b.pk).output)
    assert out_a["first"] == out_a["again"]
    assert out_a["first"][1] == int(a.created_at.timestamp() * 1000)
    # Date.now() moves only at durable points: here, when step "again" completed (5 minutes in).
    assert out_a["later"] == out_a["first"][1] + 5 * 60_000
    assert out_a["first"][0] != out_b["first"][0]  # each instance has its own random stream


def test_a_result_over_1_mib_fails_the_step_clearly(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      return await step.do("big", () => "x".repeat(1024 * 1024 + 1));
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    s = status(tenant, inst)
    assert s["status"] == "errored"
    big = s["steps"][0]
    assert big["status"] == "errored" and big["attempts"] == 1  # deterministic: not retried
    assert "the result of step big" in big["error"]["message"]
    assert "over the 1048576 byte limit" in big["error"]["message"]


def test_a_result_that_is_not_json_fails_the_step(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      try { await step.do("bigint", () => 10n); } catch (e) { return e.message; }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert "not JSON-serializable" in json.loads(inst.output)


def test_a_program_that_does_not_load_errors_the_instance(tenant, clock, make_workflow, drive):
    for n, (program, text) in enumerate([
        ("export default async function run( {", "SyntaxError"),
        ("export const x = 1;", "no default export"),
        ('import fs from "fs"; export default async () => 1;', "fs"),
    ]):
        # Version creation refuses such programs now (builder.errors.ProgramInvalid); a version stored
        # before that check existed must still error its instance instead of wedging the engine.
        wf = make_workflow("export default async function run() {}", slug=f"bad{n}")
        WorkflowVersion.objects.filter(pk=wf.published_version_id).update(
            program=program, program_hash=hashlib.sha256(program.encode()).hexdigest())
        inst = services.instance_create(tenant=tenant, workflow=wf)
        drive()
        inst.refresh_from_db()
        assert inst.status == "errored", program
        assert inst.error["name"] == "ProgramError" and text in inst.error["message"], inst.error


def test_console_log_lines_are_progress_events(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      console.log("starting", { n: 1 });
      await step.do("work", () => { console.warn("inside"); return 1; });
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    logs = [(e["step"], {"level": e["level"], "message": e["message"]})
            for e in progress.events_of(ProgressEvent.objects.filter(instance=inst).order_by("event_id")) if e["type"] == "log"]
    assert logs == [(None, {"level": "info", "message": 'starting {"n":1}'}),
                    ("work", {"level": "warn", "message": "inside"})]


def test_progress_events_follow_the_taxonomy_with_increasing_ids(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("a", () => 1);
      await step.sleep("s", "1 second");
      return 2;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    clock.advance(seconds=1)
    drive()
    events = selectors.progress_after(tenant=tenant, instance_id=inst.pk)
    assert [e["eventId"] for e in events] == list(range(1, len(events) + 1))
    assert [(e["type"], e["step"]) for e in events] == [
        ("workflow_queued", None), ("workflow_started", None), ("step_started", "a"), ("attempt_started", "a"),
        ("step_completed", "a"), ("sleep_started", "s"), ("workflow_waiting", None), ("sleep_completed", "s"),
        ("workflow_completed", None)]
    assert events[-1]["output"] == "2"
    assert [e["eventId"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk, after=7)] == [8, 9]
