"""A program that hits a limit fails its step (or itself) clearly; the worker goes on."""
import json

from engine import selectors, services

from .test_retries import run_until_settled


def step_errors(tenant, inst):
    steps = selectors.instance_status(tenant=tenant, instance_id=inst.pk)["steps"]
    return [(s["name"], s["status"], [a["error"] and a["error"]["name"] for a in s["attempt_history"]]) for s in steps]


def test_an_endless_loop_fails_the_step_on_the_time_limit(tenant, clock, make_workflow, drive):
    tenant.limits = {"advance_time_seconds": 1.5}  # room for a loaded machine; an endless loop still ends
    tenant.save()
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("ok", () => 1);
      try { await step.do("spin", { retries: { limit: 1, delay: 1000 } }, () => { for (;;) {} }); }
      catch (e) { return e.name + ": " + e.message; }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    run_until_settled(clock, drive, inst)
    assert json.loads(inst.output) == "TimeoutError: step spin: exceeded the time limit of 1.5 s"
    assert step_errors(tenant, inst) == [("ok", "complete", [None]), ("spin", "errored", ["TimeoutError", "TimeoutError"])]


def test_an_endless_loop_outside_steps_fails_the_workflow(tenant, clock, make_workflow, drive):
    tenant.limits = {"advance_time_seconds": 1.5}  # room for a loaded machine; an endless loop still ends
    tenant.save()
    wf = make_workflow("export default async function run(event, step) { for (;;) {} }")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert inst.error == {"name": "TimeoutError", "message": "the workflow exceeded the time limit of 1.5 s"}


def test_a_memory_bomb_fails_the_step(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("bomb", { retries: { limit: 0 } }, () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); });
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert inst.error == {"name": "MemoryLimitError", "message": "exceeded the memory limit of 64 MiB in step bomb"}


def test_deep_recursion_fails_the_step_not_the_worker(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("before", () => "kept");
      await step.do("recurse", { retries: { limit: 1, delay: 0 } }, () => { const f = (n) => f(n + 1) + 1; return f(0); });
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    run_until_settled(clock, drive, inst)
    assert inst.status == "errored"
    assert inst.error["name"] in ("StackOverflowError", "InternalError", "RangeError"), inst.error
    names = step_errors(tenant, inst)
    assert names[0] == ("before", "complete", [None])
    assert names[1][0:2] == ("recurse", "errored") and len(names[1][2]) == 2


def test_a_step_timeout_shorter_than_the_time_limit_is_enforced(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const quick = await step.do("quick", { timeout: "5 seconds" }, () => "fast enough");
      try {
        await step.do("slow", { timeout: "200 milliseconds", retries: { limit: 1, delay: 0 } }, () => { for (;;) {} });
      } catch (e) { return [quick, e.name, e.message]; }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    run_until_settled(clock, drive, inst)
    assert json.loads(inst.output) == ["fast enough", "TimeoutError", "step slow: exceeded its timeout of 0.2 s"]
    assert step_errors(tenant, inst)[1] == ("slow", "errored", ["TimeoutError", "TimeoutError"])
