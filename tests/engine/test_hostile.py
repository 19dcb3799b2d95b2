"""Hostile code: every case ends in a clean step error (or a clean result), and the worker lives on."""
import json

import pytest

from engine import progress, services
from engine.models import Instance

CASES = {
    "infinite_loop": ("for (;;) {}", "TimeoutError"),
    "catastrophic_regex": ('return /^(a+)+$/.test("a".repeat(40) + "!");', "TimeoutError"),
    "promise_spin": ("for (;;) await Promise.resolve();", "TimeoutError"),
    "array_bomb": ("const a = []; for (;;) a.push(new Array(1e6).fill(7));", "MemoryLimitError"),
    "arraybuffer_bomb": ("const a = []; for (;;) a.push(new ArrayBuffer(8 << 20));", "MemoryLimitError"),
    "typed_array_bomb": ("return new Float64Array(1 << 27).length;", "MemoryLimitError"),
    "string_bomb": ('let s = "x"; for (;;) s = s + s;', "InternalError"),  # QuickJS's string length cap
    "object_bomb": ("const o = {}; for (let i = 0; ; i++) o['k' + i] = { i, s: 'v' + i };", "MemoryLimitError"),
    "deep_recursion": ("const f = (n) => f(n + 1) + 1; return f(0);", "StackOverflowError"),
    "huge_output": ('return "y".repeat(100 * 1024 * 1024);', "MemoryLimitError"),
    "big_output": ('return "y".repeat(2 * 1024 * 1024);', "ResultError"),
    "constructor_escape": ("return this.constructor.constructor('return process')().pid;", "TypeError"),
    "function_escape": ("return Function('return this')().process.env;", "TypeError"),
    "import_escape": ('return (await import("os")).platform();', "ReferenceError"),
}

PROBES = """
  const names = ["process", "require", "fetch", "Deno", "Bun", "XMLHttpRequest", "WebSocket", "setTimeout",
                 "setInterval", "module", "exports", "__dirname", "os", "std", "WebAssembly", "SharedArrayBuffer"];
  const seen = {};
  for (const n of names) seen[n] = typeof globalThis[n];
  const all = Object.getOwnPropertyNames(globalThis);
  return { seen, all, now: Date.now(), perf: performance.now(), newDate: new Date().getTime() };
"""


def program(body: str, timeout: str = "1 second") -> str:
    return f"""
    export default async function run(event, step) {{
      try {{
        const v = await step.do("hostile", {{ retries: {{ limit: 0 }}, timeout: "{timeout}" }}, async () => {{ {body} }});
        return {{ ok: true, v }};
      }} catch (e) {{
        return {{ ok: false, name: e.name, message: e.message }};
      }}
    }}"""


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_code_ends_in_a_clean_step_error(case, tenant, clock, make_workflow, drive):
    body, expected = CASES[case]
    # Only the endless cases meet the 1 s step timeout; the others get room to reach their own
    # limit first on a loaded machine, so each case has exactly one right error name.
    wf = make_workflow(program(body, "1 second" if expected == "TimeoutError" else "20 seconds"), slug=case.replace("_", "-"))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    out = json.loads(inst.output)
    assert out["ok"] is False and out["name"] == expected, out
    # The worker (this process) is alive and runs the next instance normally.
    ok = make_workflow("export default async function run(e, step) { return await step.do('x', () => 42); }",
                       slug=f"after-{case.replace('_', '-')}")
    after = services.instance_create(tenant=tenant, workflow=ok)
    drive()
    assert json.loads(Instance.objects.get(pk=after.pk).output) == 42


def test_the_sandbox_has_no_host_globals_and_no_real_clock(tenant, clock, make_workflow, drive):
    wf = make_workflow(program(PROBES))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    out = json.loads(Instance.objects.get(pk=inst.pk).output)["v"]
    assert {n: t for n, t in out["seen"].items() if t != "undefined"} == {"SharedArrayBuffer": "function"}
    assert not {"__host", "__boot", "__init"} & set(out["all"])
    created_ms = int(inst.created_at.timestamp() * 1000)
    assert out["now"] == out["newDate"] == created_ms  # the logical clock, not the machine's


def test_state_does_not_leak_between_instances(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const before = globalThis.leaked;
      globalThis.leaked = event.instanceId;
      const polluted = ({}).polluted ?? null;
      Object.prototype.polluted = "yes";
      Math.max = () => 0;
      return await step.do("look", () => ({ before: before ?? null, polluted }));
    }""")
    first = services.instance_create(tenant=tenant, workflow=wf, id="first")
    drive()
    second = services.instance_create(tenant=tenant, workflow=wf, id="second")
    drive()
    for inst in (first, second):
        inst = Instance.objects.get(pk=inst.pk)
        assert inst.status == "complete", inst.error
        assert json.loads(inst.output) == {"before": None, "polluted": None}


def test_values_returned_to_the_host_are_plain_json(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const v = await step.do("proto", () => JSON.parse('{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"x": 1}}}'));
      Object.prototype.toJSON = function () { return "tampered"; };
      return { v, isAdmin: v.isAdmin ?? null };
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert not hasattr(dict, "isAdmin")
    # The checkpoint is plain JSON: "__proto__" is just a key the host stores and never interprets.
    step = inst.steps.get(name="proto")
    assert json.loads(step.output) == {"__proto__": {"isAdmin": True}, "constructor": {"prototype": {"x": 1}}}
    # A program that re-defines toJSON only changes its own return value; the host still gets JSON.
    assert inst.status == "complete" and json.loads(inst.output) == "tampered"


def test_log_spam_is_bounded(tenant, clock, make_workflow, drive):
    wf = make_workflow(program('const line = "z".repeat(10000); for (let i = 0; i < 1000; i++) console.log(line); return "done";'))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    logs = [e for e in progress.events_of(inst.progress.order_by("event_id")) if e["type"] == "log"]
    assert json.loads(inst.output)["v"] == "done"
    assert sum(len(d["message"]) for d in logs) <= 256 * 1024 + 8192
    assert logs[-1]["message"].startswith("(log limit reached")


def test_memory_bombs_leave_no_memory_behind(tenant, clock, make_workflow, drive):
    """Each bomb fills its sandbox to the 64 MiB cap; the worker's resident memory must come back
    down once the sandbox is discarded (a leak of each bomb's store would add 64 MiB a run)."""
    from engine.heartbeat import rss_bytes

    wf = make_workflow(program(CASES["array_bomb"][0], "20 seconds"), slug="bombs")

    def bomb() -> None:
        inst = services.instance_create(tenant=tenant, workflow=wf)
        drive()
        assert json.loads(Instance.objects.get(pk=inst.pk).output)["name"] == "MemoryLimitError"

    bomb()  # warm: the guest module, the pool, the allocator's arenas
    before = rss_bytes()
    for _ in range(4):
        bomb()
    grown_mb = (rss_bytes() - before) / (1 << 20)
    assert grown_mb < 96, f"resident memory grew {grown_mb:.0f} MiB over 4 memory bombs"
