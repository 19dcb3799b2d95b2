"""The step callback's context (ctx) and retry-delay functions, on an injected clock.

A delay function `({ ctx, error }) => duration | ms` is called once per failed attempt that has a
retry left, with a 5 s limit the host enforces; its result goes through the configured backoff.
If it throws, does not return in time or returns what is not a duration, the step fails for good
with a DelayFunctionError naming the step."""
import json

from engine import selectors, services
from engine.models import Attempt, Instance, StepRecord


def settle(clock, drive, inst, limit=20):
    for _ in range(limit):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        clock.set(inst.due_at)
    raise AssertionError("instance did not finish")


def delays(tenant, inst):
    return [e["retryDelayMs"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)
            if e["type"] == "attempt_errored" and "retryDelayMs" in e]


def test_the_callback_gets_its_step_name_count_attempt_and_resolved_config(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const seen = [];
      for (let i = 0; i < 2; i++) seen.push(await step.do("loop", (ctx) => ctx));
      seen.push(await step.do("custom", { retries: { limit: 1, delay: "2 seconds", backoff: "linear" }, timeout: "1 minute" },
        (ctx) => { if (ctx.attempt === 1) throw new Error("again"); return ctx; }));
      seen.push(await step.do("fn-delay", { retries: { limit: 2, delay: () => 5 } }, (ctx) => ctx.config));
      return seen;
    }""")
    inst = settle(clock, drive, services.instance_create(tenant=tenant, workflow=wf), 5)
    loop1, loop2, custom, fn = json.loads(inst.output)
    defaults = {"retries": {"limit": 5, "delay": 10000, "backoff": "exponential"}, "timeout": 600000}
    assert loop1 == {"step": {"name": "loop", "count": 1}, "attempt": 1, "config": defaults}
    assert loop2["step"] == {"name": "loop", "count": 2}
    assert custom == {"step": {"name": "custom", "count": 1}, "attempt": 2,
                      "config": {"retries": {"limit": 1, "delay": 2000, "backoff": "linear"}, "timeout": 60000}}
    assert fn == {"retries": {"limit": 2, "backoff": "exponential"}, "timeout": 600000}  # no delay: it is a function
    stored = StepRecord.objects.get(instance=inst, name="fn-delay").config
    assert stored["retries"]["delay"] == "function"


FLAKY = """
export default async function run(event, step) {
  return await step.do("call-api", { retries: { limit: 3, delay: %s, backoff: "%s" } }, async (ctx) => {
    if (ctx.attempt < 4) { const e = new Error("429 Too Many Requests"); e.name = "HttpError"; throw e; }
    return "ok on " + ctx.attempt;
  });
}"""


def test_a_delay_function_decides_each_retry_through_the_backoff(tenant, clock, make_workflow, drive):
    fn = "({ ctx, error }) => error.name === 'HttpError' ? `${ctx.attempt * 30} seconds` : 1"
    inst = settle(clock, drive, services.instance_create(tenant=tenant, workflow=make_workflow(FLAKY % (fn, "constant"))))
    assert json.loads(inst.output) == "ok on 4"
    assert delays(tenant, inst) == [30_000, 60_000, 90_000]
    # Its result goes through the configured backoff: 1 s, then doubled per attempt.
    wf = make_workflow(FLAKY % ("async () => 1000", "exponential"), slug="exp")
    inst = settle(clock, drive, services.instance_create(tenant=tenant, workflow=wf))
    assert delays(tenant, inst) == [1000, 2000, 4000]


def delay_failure(tenant, clock, make_workflow, drive, fn, slug):
    inst = settle(clock, drive, services.instance_create(tenant=tenant, workflow=make_workflow(FLAKY % (fn, "constant"), slug=slug)))
    step = StepRecord.objects.get(instance=inst, name="call-api")
    assert (inst.status, step.status, step.attempts) == ("errored", "errored", 1)  # no more retries
    assert step.error["name"] == "DelayFunctionError" and "step call-api" in step.error["message"], step.error
    assert inst.error["name"] == "DelayFunctionError"
    assert Attempt.objects.get(step=step).error["name"] == "DelayFunctionError"
    return step.error["message"]


def test_a_delay_function_that_throws_fails_the_step(tenant, clock, make_workflow, drive):
    message = delay_failure(tenant, clock, make_workflow, drive, "() => { throw new Error('no budget'); }", "throws")
    assert "threw no budget" in message and "429 Too Many Requests" in message


def test_a_delay_function_that_returns_garbage_fails_the_step(tenant, clock, make_workflow, drive):
    for n, garbage in enumerate(['"soon"', "-5", "({})", "undefined", "NaN", '"400 days"']):
        message = delay_failure(tenant, clock, make_workflow, drive, f"() => {garbage}", f"garbage-{n}")
        assert "not a duration" in message


def test_a_delay_function_that_never_settles_fails_the_step(tenant, clock, make_workflow, drive):
    message = delay_failure(tenant, clock, make_workflow, drive, "() => new Promise(() => {})", "never")
    assert "did not return within 5 s" in message


def test_a_delay_function_that_loops_is_stopped_after_5_seconds(tenant, clock, make_workflow, drive):
    message = delay_failure(tenant, clock, make_workflow, drive, "() => { for (;;) {} }", "loops")
    assert "did not return within 5 s" in message


def test_a_rollback_may_have_a_delay_function_too(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("book", async () => 1, {
        rollback: async ({ ctx }) => { throw new Error("busy"); },
        rollbackConfig: { retries: { limit: 2, delay: ({ ctx, error }) => ctx.attempt * 7000, backoff: "constant" } },
      });
      throw new Error("failed after booking");
    }""")
    inst = settle(clock, drive, services.instance_create(tenant=tenant, workflow=wf))
    undo = StepRecord.objects.get(instance=inst, name="book", rollback=True)
    assert (inst.status, undo.status, undo.attempts) == ("errored", "errored", 3)
    retries = [e["retryDelayMs"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)
               if e["type"] == "rollback_attempt_errored" and "retryDelayMs" in e]
    assert retries == [7000, 14000]
