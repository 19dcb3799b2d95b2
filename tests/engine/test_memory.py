"""Memory exhaustion, in every shape a program can build it, is a MemoryLimitError: inside a step
(the step fails with it), outside one (the workflow does), in a catch or a finally, at the module's
top level, and where QuickJS throws `null` because it cannot even allocate the error. The worker
lives on and its resident memory stays bounded."""
import json

import pytest

from engine import services
from engine.models import Instance, StepRecord

SHAPES = {
    "small_objects": "const o = []; for (;;) o.push({ a: 1 });",  # QuickJS throws null here
    "object_keys": "const o = {}; for (let i = 0; ; i++) o['k' + i] = { i, s: 'v' + i };",
    "arrays": "const a = []; for (;;) a.push(new Array(1e5).fill(7));",
    "strings": "const a = []; for (let i = 0; ; i++) a.push('x'.repeat(1 << 16) + i);",
    "typed_arrays": "const a = []; for (;;) a.push(new Float64Array(1 << 16));",
    "array_buffers": "const a = []; for (;;) a.push(new ArrayBuffer(1 << 20));",
    "closures": "const a = []; for (let i = 0; ; i++) a.push(() => i + a.length);",
    "maps": "const m = new Map(); for (let i = 0; ; i++) m.set(i, { i });",
    "sets": "const s = new Set(); for (let i = 0; ; i++) s.add('k' + i);",
    "json_text": "const big = new Array(1e6).fill({ a: 'x'.repeat(100) }); return JSON.stringify(big).length;",
    "in_a_catch": "try { throw new Error('first'); } catch (e) { const o = []; for (;;) o.push({ e }); }",
    "in_a_finally": "try { } finally { const o = []; for (;;) o.push([1, 2]); }",
}


@pytest.fixture
def small_memory(tenant):
    # A small heap keeps each bomb quick; time is generous so a loaded machine still runs out of memory first.
    tenant.limits = {"sandbox_memory_mb": 16, "advance_time_seconds": 60}
    tenant.save()
    return tenant


def vm_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def finish(tenant, make_workflow, drive, program, slug):
    wf = make_workflow(program, slug=slug)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    return Instance.objects.get(pk=inst.pk)


def test_the_matrix_has_10_shapes():
    assert len(SHAPES) >= 10


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_memory_exhaustion_in_a_step_is_a_memory_limit_error(shape, small_memory, clock, make_workflow, drive):
    before = vm_rss_mb()
    inst = finish(small_memory, make_workflow, drive, f"""
    export default async function run(event, step) {{
      try {{
        await step.do("bomb", {{ retries: {{ limit: 0 }}, timeout: "1 minute" }}, async () => {{ {SHAPES[shape]} }});
        return "survived";
      }} catch (e) {{ return [e.name, e.message]; }}
    }}""", shape.replace("_", "-"))
    assert inst.status == "complete", inst.error
    name, message = json.loads(inst.output)
    assert (name, message.replace("step bomb: ", "").split(" in step")[0]) == ("MemoryLimitError", "exceeded the memory limit of 16 MiB")
    attempt = StepRecord.objects.get(instance=inst, name="bomb").attempt_rows.get()
    assert attempt.error["name"] == "MemoryLimitError"
    # The worker (this process) lives on, runs the next instance, and its memory is bounded.
    after = finish(small_memory, make_workflow, drive,
                   "export default async function run(e, step) { return await step.do('x', () => 42); }", f"ok-{shape}".replace("_", "-"))
    assert json.loads(after.output) == 42
    assert vm_rss_mb() - before < 256


@pytest.mark.parametrize("where, program", [
    ("run_body", "export default async function run(e, step) { await step.do('a', () => 1); const o = []; for (;;) o.push({ a: 1 }); }"),
    ("run_body_catch", "export default async function run(e, step) { try { null.x; } catch (err) { const m = new Map(); for (let i = 0; ; i++) m.set(i, [i]); } }"),
    ("module_top_level", "const o = []; for (;;) o.push({ a: 1 });\nexport default async function run() { return 1; }"),
    ("module_top_level_buffers", "const a = []; for (;;) a.push(new ArrayBuffer(1 << 20));\nexport default async function run() { return 1; }"),
])
def test_memory_exhaustion_outside_a_step_fails_the_workflow_typed(where, program, small_memory, clock, make_workflow, drive):
    inst = finish(small_memory, make_workflow, drive, program, where.replace("_", "-"))
    assert inst.status == "errored"
    assert inst.error["name"] == "MemoryLimitError", inst.error
    assert "16 MiB" in inst.error["message"]


def test_a_program_that_throws_null_itself_is_not_a_memory_error(tenant, clock, make_workflow, drive):
    inst = finish(tenant, make_workflow, drive, """
    export default async function run(event, step) {
      try { await step.do("n", { retries: { limit: 0 } }, () => { throw null; }); }
      catch (e) { return [e.name, e.message]; }
    }""", "throws-null")
    assert json.loads(inst.output) == ["Error", "null"]
