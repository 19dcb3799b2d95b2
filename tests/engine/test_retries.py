"""Retries follow the step's policy on an injected clock; nothing sleeps for real."""
import json

from engine import selectors, services
from engine.models import Instance

FLAKY = """
export default async function run(event, step) {
  return await step.do("flaky", %s, async (ctx) => {
    if (ctx.attempt < event.payload.succeedOn) throw new Error("boom " + ctx.attempt);
    return "ok on " + ctx.attempt;
  });
}"""


def retry_delays(tenant, inst):
    return [e["retryDelayMs"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)
            if e["type"] == "attempt_errored" and "retryDelayMs" in e]


def run_until_settled(clock, drive, inst, limit=20):
    for _ in range(limit):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        clock.set(inst.due_at)
    raise AssertionError("instance did not finish")


def test_retries_follow_exponential_backoff(tenant, clock, make_workflow, drive):
    config = '{ retries: { limit: 3, delay: "10 seconds", backoff: "exponential" } }'
    wf = make_workflow(FLAKY % config)
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"succeedOn": 99})
    start = clock.now()
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    assert (inst.due_at - start).total_seconds() == 10
    run_until_settled(clock, drive, inst)
    assert inst.status == "errored"
    assert inst.error == {"name": "Error", "message": "boom 4"}
    assert retry_delays(tenant, inst) == [10_000, 20_000, 40_000]
    assert (clock.now() - start).total_seconds() == 70
    step = selectors.instance_status(tenant=tenant, instance_id=inst.pk)["steps"][0]
    assert (step["status"], step["attempts"]) == ("errored", 4)
    assert [a["error"]["message"] for a in step["attempt_history"]] == ["boom 1", "boom 2", "boom 3", "boom 4"]


def test_linear_and_constant_backoff(tenant, clock, make_workflow, drive):
    for backoff, expected in [("linear", [5000, 10000, 15000]), ("constant", [5000, 5000, 5000])]:
        wf = make_workflow(FLAKY % f'{{ retries: {{ limit: 3, delay: 5000, backoff: "{backoff}" }} }}', slug=backoff)
        inst = services.instance_create(tenant=tenant, workflow=wf, params={"succeedOn": 4})
        run_until_settled(clock, drive, inst)
        assert json.loads(inst.output) == "ok on 4"
        assert retry_delays(tenant, inst) == expected


def test_default_policy_is_five_retries_ten_seconds_exponential(tenant, clock, make_workflow, drive):
    wf = make_workflow(FLAKY % "{}")
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"succeedOn": 99})
    run_until_settled(clock, drive, inst)
    assert retry_delays(tenant, inst) == [10_000, 20_000, 40_000, 80_000, 160_000]
    step = selectors.instance_status(tenant=tenant, instance_id=inst.pk)["steps"][0]
    assert step["attempts"] == 6
    assert step["attempt_history"][0]["started_at"] != step["attempt_history"][1]["started_at"]


def test_a_step_that_succeeds_on_retry_returns_its_value(tenant, clock, make_workflow, drive):
    wf = make_workflow(FLAKY % '{ retries: { limit: 5, delay: "1 second" } }')
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"succeedOn": 3})
    run_until_settled(clock, drive, inst)
    assert (inst.status, json.loads(inst.output)) == ("complete", "ok on 3")


def test_zero_delay_retries_at_once(tenant, clock, make_workflow, drive):
    wf = make_workflow(FLAKY % "{ retries: { limit: 2, delay: 0 } }")
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"succeedOn": 3})
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "ok on 3")


def test_non_retryable_error_fails_without_retry(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    import { NonRetryableError } from "cloudflare:workflows";
    export default async function run(event, step) {
      try {
        await step.do("validate", () => { throw new NonRetryableError("bad card"); });
      } catch (e) {
        return { caught: e.message, name: e.name };
      }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == {"caught": "bad card", "name": "NonRetryableError"}
    step = selectors.instance_status(tenant=tenant, instance_id=inst.pk)["steps"][0]
    assert (step["status"], step["attempts"]) == ("errored", 1)


def test_a_failed_step_error_replays_identically(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      let caught;
      try { await step.do("x", { retries: { limit: 0 } }, () => { throw new TypeError("nope"); }); }
      catch (e) { caught = e.name + ": " + e.message; }
      await step.sleep("s", "1 minute");
      return caught;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    clock.advance(minutes=1)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == "TypeError: nope"


def test_bad_step_config_names_the_step(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("fetch_order", { retries: { backoff: "sometimes" } }, () => 1);
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert inst.error["message"] == "step fetch_order: retries.backoff must be constant, linear or exponential"
