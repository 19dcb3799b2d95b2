"""The host keeps its own record of steps and rollbacks and refuses forged rollback commands: a
rollback of a step that never completed (or registered no handler), out of LIFO order, before the
phase, twice, past its retry limit, or a step of the program's own during the phase. Each ends the
instance with a ProtocolError, and the forged rollback's handler never runs."""
import pytest

from engine import services
from engine.models import Instance, StepRecord

from .capabilities import count
from .test_protocol import forge  # noqa: F401 (the fixture)

PROGRAM = """
export default async function run(event, step) {
  const undo = (label) => ({ rollback: async () => step.sideEffect({ label: "undo-" + label }),
                             rollbackConfig: { retries: { limit: 0 } } });
  await step.do("a", async () => 1, undo("a"));
  await step.do("b", async () => 2);
  await step.do("c", async () => 3, undo("c"));
  await step.do("boom", { retries: { limit: 0 } }, async () => { throw new Error("boom"); }, undo("boom"));
}"""
ERROR = {"name": "Error", "message": "m"}


def rollback_cmd(change):
    """Apply `change` to the first rollback command the runtime sends (the start of c's rollback)."""
    state = {"done": False}

    def apply(m, n):
        cmds = m.get("cmds", []) if isinstance(m, dict) else []
        if state["done"] or not any(c.get("t") == "rstart" for c in cmds):
            return m
        state["done"] = True
        return change(m)
    return apply


def replace_rstart(**fields):
    return rollback_cmd(lambda m: {**m, "cmds": [{**c, **fields} if c["t"] == "rstart" else c for c in m["cmds"]]})


def add_after_rstart(*extra):
    return rollback_cmd(lambda m: {**m, "cmds": m["cmds"] + list(extra)})


def first_message(change):
    state = {"done": False}

    def apply(m, n):
        if state["done"] or not isinstance(m, dict) or not m.get("cmds"):
            return m
        state["done"] = True
        return change(m)
    return apply


FORGED = {
    "rollback_of_a_step_that_failed": replace_rstart(s="boom"),
    "rollback_of_a_step_without_handler": replace_rstart(s="b"),
    "rollback_of_a_step_that_never_ran": replace_rstart(s="ghost"),
    "rollback_out_of_lifo_order": replace_rstart(s="a"),
    "rollback_attempt_skips_ahead": replace_rstart(a=2),
    "rollback_before_the_phase": first_message(lambda m: {**m, "cmds": m["cmds"] + [{"t": "rstart", "s": "a", "o": 1, "a": 1}]}),
    "rollback_run_twice": add_after_rstart({"t": "rok", "s": "c", "o": 1, "a": 1}, {"t": "rstart", "s": "c", "o": 1, "a": 2}),
    "rollback_retry_past_its_limit": add_after_rstart({"t": "rfail", "s": "c", "o": 1, "a": 1, "e": ERROR,
                                                       "delay": 0, "wake": 1767225600000}),
    "rollback_result_not_in_flight": add_after_rstart({"t": "rok", "s": "c", "o": 1, "a": 7}),
    "program_step_during_the_phase": add_after_rstart({"t": "start", "s": "late", "o": 1, "a": 1,
        "c": {"retries": {"limit": 0, "delay": 0, "backoff": "constant"}, "timeout": 1000}}),
    "sleep_during_the_phase": add_after_rstart({"t": "sleep", "s": "late", "o": 1, "wake": 1767225600000}),
}
MALFORMED = [{"retries": {"limit": -1}}, {"retries": {"limit": 10**6, "delay": 0, "backoff": "constant"}, "timeout": 0},
             {"retries": {"limit": 1, "delay": "soon", "backoff": "constant"}, "timeout": 0}, "yes"]


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_rollback_command_ends_the_instance_with_a_protocol_error(case, tenant, clock, make_workflow, drive,
                                                                            forge, side_effects):  # noqa: F811
    forge.message = FORGED[case]
    wf = make_workflow(PROGRAM, slug=case.replace("_", "-")[:50])
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert (inst.status, inst.error["name"]) == ("errored", "ProtocolError"), (inst.status, inst.error)
    # The forged rollback never ran, and a refused message wrote nothing.
    assert side_effects("undo-a") == side_effects("undo-boom") == 0
    assert not StepRecord.objects.filter(instance=inst, name__in=["ghost", "late"]).exists()
    assert not StepRecord.objects.filter(instance=inst, rollback=True).exclude(name="c").exists()


@pytest.mark.parametrize("config", MALFORMED)
def test_a_malformed_rollback_config_is_refused(config, tenant, clock, make_workflow, drive, forge):  # noqa: F811
    def change(m):
        return {**m, "cmds": [{**c, "c": {**c["c"], "rollback": config}} if c.get("t") == "start" and "c" in c else c
                              for c in m["cmds"]]}
    forge.message = lambda m, n: change(m) if isinstance(m, dict) and "cmds" in m else m
    forge.final = change
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PROGRAM))
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.error["name"]) == ("errored", "ProtocolError"), inst.error
    assert "rollback of step" in inst.error["message"]


def test_without_forgery_the_rollbacks_run_in_order(tenant, clock, make_workflow, drive, forge, side_effects):  # noqa: F811
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PROGRAM))
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.error["message"]) == ("errored", "boom")
    assert (side_effects("undo-c"), side_effects("undo-a"), side_effects("undo-boom")) == (1, 1, 0)
    assert list(StepRecord.objects.filter(instance=inst, rollback=True).order_by("pk").values_list("name", flat=True)) == ["c", "a"]
    assert count("undo-c") == 1
