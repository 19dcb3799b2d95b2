"""The trust boundary between the step runtime and the host.

Two corpora, both run through the engine as a tenant's instance would (create, advance, read back
through the API):
- REALM: programs that attack the runtime from inside the JavaScript realm it shares with them
  (replace or wrap its handles, patch the intrinsics it uses, put getters and setters on the
  built-in prototypes, hand it Proxies and recursive toJSON). Each ends exactly as the program
  would have without the attack: same steps, attempts, output and usage.
- FORGED: messages a compromised runtime could send (the realm can no longer reach the host
  function, so they are injected on the channel itself). Each ends the instance with a typed
  ProtocolError, writes nothing of the refused message, counts no usage for it, and every API
  read of the instance still answers 200.
"""
import json

import pytest

from engine import progress, runner, services
from engine.models import Attempt, Instance, StepRecord
from engine.sandbox import protocol
from engine.sandbox.runtime import ProgramRun
from tenants.models import Usage

from tests.api.conftest import Api

BASE = """
export default async function run(event, step) {
  %s
  const a = await step.do("a", { retries: { limit: 2, delay: "1 second" } }, () => 1);
  const b = await step.do("b", () => a + 1);
  console.log("b is", b);
  return "done-" + b;
}"""

REALM = {
    "replace_engine_handle": 'globalThis.__engine = { finish() { return JSON.stringify({ cmds: [], outcome: { output: "\\"" + "x".repeat(5e6) + "\\"" } }); } };',
    "engine_handle_getter": 'Object.defineProperty(globalThis, "__engine", { get() { throw new Error("gotcha"); } });',
    "json_stringify": 'JSON.stringify = () => \'{"cmds":[],"outcome":{"output":"\\\\"forged\\\\""}}\';',
    "json_parse": "JSON.parse = () => ({ stop: false, result: 'forged' });",
    "array_push_splice": "Array.prototype.push = function () { return 0; }; Array.prototype.splice = () => [];",
    "array_index_setters": 'for (const i of ["0", "1", "2"]) Object.defineProperty(Array.prototype, i, { set() { throw new Error("set " + i); }, configurable: true });',
    "promise_then": 'Promise.prototype.then = function () { return "hijacked"; };',
    "promise_statics": "Promise.resolve = () => 42; Promise.reject = () => 43; globalThis.Promise = function () {};",
    "object_prototype_tojson": 'Object.defineProperty(Object.prototype, "toJSON", { get() { return () => "tampered"; }, configurable: false });',
    "object_prototype_reply_getters": 'for (const k of ["stop", "error", "result", "cmds", "outcome", "wake", "deadline", "oom", "secret"]) Object.defineProperty(Object.prototype, k, { get() { return { name: "Forged", message: k }; } });',
    "object_prototype_then": "Object.prototype.then = function (resolve) { resolve('hijacked'); };",
    "function_call_apply_bind": 'Function.prototype.call = function () { throw new Error("call"); }; Function.prototype.apply = function () { throw new Error("apply"); }; Function.prototype.bind = function () { throw new Error("bind"); };',
    "symbol_iterator": 'Array.prototype[Symbol.iterator] = function* () { yield "forged"; }; Map.prototype[Symbol.iterator] = function* () {};',
    "map_methods": "Map.prototype.get = () => 0; Map.prototype.set = function () { return this; }; Map.prototype.has = () => true;",
    "string_methods": 'String.prototype.slice = () => ""; String.prototype.includes = () => true; String.prototype.split = () => []; String.prototype[Symbol.split] = () => [];',
    "regexp_exec": "RegExp.prototype.exec = () => null; RegExp.prototype.test = () => false;",
    "object_statics": "Object.keys = () => ['forged']; Object.freeze = (o) => o; Object.defineProperty = () => { throw new Error('dp'); }; Object.setPrototypeOf = () => { throw new Error('sp'); };",
    "reflect": 'Reflect.apply = () => { throw new Error("apply"); }; Reflect.ownKeys = () => [];',
    "math_and_number": "Math.min = () => -1; Math.imul = () => 0; Number.isInteger = () => false; Number.isFinite = () => false;",
    "error_has_instance": 'Object.defineProperty(Error, Symbol.hasInstance, { value: () => false }); Object.defineProperty(Error.prototype, "name", { get() { return "Forged"; } });',
    "host_globals": 'if (typeof __host !== "undefined" || typeof __boot !== "undefined" || typeof __engine !== "undefined" || typeof __init !== "undefined" || typeof __start !== "undefined") throw new Error("a runtime handle is reachable");',
    "frozen_step_object": "try { step.do = async () => 'forged'; } catch (e) {} try { Object.defineProperty(step, 'do', { value: () => 1 }); } catch (e) {}",
}


def run_instance(tenant, make_workflow, drive, program, slug):
    wf = make_workflow(program, slug=slug)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    return Instance.objects.get(pk=inst.pk)


def usage_steps(tenant) -> int:
    return sum(Usage.objects.filter(tenant=tenant).values_list("steps", flat=True))


def history(inst):
    return [(s.name, s.occurrence, s.status, s.attempts, s.output)
            for s in StepRecord.objects.filter(instance=inst).order_by("pk")]


@pytest.mark.parametrize("attack", sorted(REALM))
def test_an_attack_from_inside_the_realm_changes_nothing_the_runtime_reports(attack, tenant, clock, make_workflow, drive):
    inst = run_instance(tenant, make_workflow, drive, BASE % REALM[attack], attack.replace("_", "-"))
    assert (inst.status, inst.error) == ("complete", None)
    assert json.loads(inst.output) == "done-2"
    assert history(inst) == [("a", 1, "complete", 1, "1"), ("b", 1, "complete", 1, "2")]
    assert usage_steps(tenant) == 2
    logs = [e for e in progress.events_of(inst.progress.order_by("event_id")) if e["type"] == "log"]
    assert [d["message"] for d in logs] == ["b is 2"]


def test_the_realm_corpus_has_20_programs():
    assert len(REALM) >= 20


@pytest.mark.parametrize("case, body, expected", [
    ("proxy_result", "return new Proxy({}, { ownKeys() { throw new Error('trap'); } });", "ResultError"),
    ("recursive_tojson", "const o = { toJSON() { return { again: o }; } }; return o;", "ResultError|StackOverflowError"),
    ("bigint_result", "return 10n;", "ResultError"),
    ("getter_throws_null", "return { get x() { throw null; } };", "Error"),
    ("five_megabyte_result", 'return "x".repeat(5e6);', "ResultError"),
])
def test_hostile_results_end_in_a_typed_step_error(case, body, expected, tenant, clock, make_workflow, drive):
    program = f"""
    export default async function run(event, step) {{
      try {{ await step.do("r", {{ retries: {{ limit: 0 }} }}, () => {{ {body} }}); return "stored"; }}
      catch (e) {{ return e.name; }}
    }}"""
    inst = run_instance(tenant, make_workflow, drive, program, case.replace("_", "-"))
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output) in expected.split("|")
    assert StepRecord.objects.get(instance=inst, name="r").status == "errored"


# ---- forged messages ------------------------------------------------------------------------------
@pytest.fixture
def forge(monkeypatch):
    """Rewrites the runtime's messages (decoded JSON) before the host reads them."""
    class Forge:
        message = None  # (message: dict, n: int) -> dict | str, for flushes
        final = None  # (message: dict) -> dict | str, for the final message

    f = Forge()
    real_host, real_finish = runner.Advance.host, ProgramRun.finish
    counter = {"n": 0}

    def encode(value):
        return value if isinstance(value, str) else json.dumps(value)

    def host(self, text):
        counter["n"] += 1
        if f.message:
            text = encode(f.message(json.loads(text), counter["n"]))
        return real_host(self, text)

    def finish(self):
        text = real_finish(self)
        return encode(f.final(json.loads(text))) if f.final else text

    monkeypatch.setattr(runner.Advance, "host", host)
    monkeypatch.setattr(ProgramRun, "finish", finish)
    return f


PROGRAM = """
export default async function run(event, step) {
  const a = await step.do("a", () => 1);
  const s = await step.do("s", { timeout: "5 seconds" }, () => step.sideEffect({ label: "s" }));
  await step.sleep("nap", "1 hour");
  const w = await step.waitForEvent("w", { type: "go", timeout: "1 hour" });
  return [a, s, w.payload];
}"""
START = {"t": "start", "s": "a", "o": 1, "a": 1,
         "c": {"retries": {"limit": 5, "delay": 10000, "backoff": "exponential"}, "timeout": 600000}}
HUGE = '"' + "x" * (5 * 1024 * 1024) + '"'


def add_cmds(*cmds):
    return lambda m: {**m, "cmds": m["cmds"] + list(cmds)}


def when(has, change):
    """Apply `change` to the messages that have `has` (a key, or "ok": a step result among the commands)."""
    def apply(m, n):
        hit = any(c.get("t") == "ok" for c in m.get("cmds", [])) if has == "ok" else (has is None or has in m)
        return change(m) if hit else m
    return apply


FINAL = {
    "result_for_a_step_never_started": add_cmds({"t": "ok", "s": "ghost", "o": 1, "a": 1, "v": "1"}),
    "failure_for_a_step_never_started": add_cmds({"t": "fail", "s": "ghost", "o": 1, "a": 1, "e": {"name": "E", "message": "m"}, "final": True}),
    "second_result_for_a_final_step": add_cmds({"t": "ok", "s": "a", "o": 1, "a": 1, "v": "2"}),
    "restart_of_a_complete_step": add_cmds({**START, "a": 2}),
    "huge_output": lambda m: {**m, "outcome": {"output": HUGE}, "wake": None},
    "output_not_json": lambda m: {**m, "outcome": {"output": "{not json"}, "wake": None},
    "output_nan": lambda m: {**m, "outcome": {"output": "NaN"}, "wake": None},
    "output_nested_too_deep": lambda m: {**m, "outcome": {"output": "[" * 100000 + "]" * 100000}, "wake": None},
    "output_and_error": lambda m: {**m, "outcome": {"output": "1", "error": {"name": "E", "message": "m"}}, "wake": None},
    "error_with_extra_keys": lambda m: {**m, "outcome": {"error": {"name": "E", "message": "m", "admin": True}}, "wake": None},
    "error_name_not_text": lambda m: {**m, "outcome": {"error": {"name": {"x": 1}, "message": "m"}}, "wake": None},
    "wake_that_is_no_timer": lambda m: {**m, "wake": m["wake"] - 1},
    "wake_in_the_past": lambda m: {**m, "wake": 0},
    "wait_types_of_no_wait": lambda m: {**m, "waitTypes": ["payment"]},
    "sleep_past_365_days": add_cmds({"t": "sleep", "s": "long", "o": 1, "wake": 10**15}),
    "sleep_occurrence_gap": add_cmds({"t": "sleep", "s": "gap", "o": 7, "wake": 1767225600000}),
    "slept_before_due": add_cmds({"t": "slept", "s": "nap", "o": 1}),
    "got_an_event_not_in_the_inbox": add_cmds({"t": "wait", "s": "w2", "o": 1, "type": "go", "wake": 1767229200000},
                                             {"t": "got", "s": "w2", "o": 1, "ev": 999999, "v": "{}"}),
    "timeout_before_the_deadline": add_cmds({"t": "wait", "s": "w2", "o": 1, "type": "go", "wake": 1767229200000},
                                           {"t": "timeout", "s": "w2", "o": 1, "e": {"name": "WaitTimeoutError", "message": "m"}}),
    "unknown_command": add_cmds({"t": "drop_table", "s": "a", "o": 1}),
    "command_not_an_object": add_cmds(["start", "a"]),
    "step_name_with_nul": add_cmds({**START, "s": "a\u0000b"}),
    "step_name_lone_surrogate": add_cmds({**START, "s": "a\ud800"}),
    "step_name_too_long": add_cmds({**START, "s": "n" * 300}),
    "negative_attempt": add_cmds({**START, "s": "neg", "a": -1}),
    "attempt_skips_ahead": add_cmds({**START, "s": "skip", "a": 5}),
    "attempt_is_a_boolean": add_cmds({**START, "s": "bool", "a": True}),
    "config_out_of_range": add_cmds({**START, "s": "cfg", "c": {"retries": {"limit": 10**9, "delay": -1, "backoff": "x"}, "timeout": 1}}),
    "too_many_commands": add_cmds(*[{"t": "log", "l": "info", "s": None, "m": "spam"}] * 5000),
    "log_level_unknown": add_cmds({"t": "log", "l": "root", "s": None, "m": "x"}),
    "extra_key_in_final": lambda m: {**m, "usage": {"steps": 0}},
    "final_not_json": lambda m: "this is not JSON",
    "final_is_a_list": lambda m: [m],
    "final_deeply_nested": lambda m: "[" * 200000 + "]" * 200000,
}
FLUSH = {
    "foreign_capability": lambda m, n: {**m, "cap": ["exec", '{"cmd": "rm -rf /"}']} if "cap" in m else m,
    "capability_args_not_json": lambda m, n: {**m, "cap": ["sideEffect", "{oops"]} if "cap" in m else m,
    "capability_args_too_deep": lambda m, n: {**m, "cap": ["sideEffect", "[" * 100000 + "]" * 100000]} if "cap" in m else m,
    "absurd_deadline": when("deadline", lambda m: {**m, "deadline": ["s\u00001", 10**18]}),
    "deadline_for_a_step_not_in_flight": when("deadline", lambda m: {**m, "deadline": ["ghost\u00001", 10]}),
    "two_extras_in_one_message": when("deadline", lambda m: {**m, "clear": "s\u00001", "memory": True}),
    "unknown_message_key": when(None, lambda m: {"cmds": m.get("cmds", []), "admin": True}),
    "memory_query_not_true": when(None, lambda m: {"cmds": m.get("cmds", []), "memory": "yes"}),
    "message_not_json": when(None, lambda m: "\x00\x01garbage"),
    "marks_not_a_list": when("marks", lambda m: {**m, "marks": "start"}),
    "result_without_start": when("ok", lambda m: {**m, "cmds": [c for c in m["cmds"] if c["t"] != "start"]}),
    "result_for_another_attempt": when("ok", lambda m: {**m, "cmds": [{**c, "a": 3} if c["t"] == "ok" else c for c in m["cmds"]]}),
    "step_result_over_the_limit": when("ok", lambda m: {**m, "cmds": [{**c, "v": HUGE} if c["t"] == "ok" else c for c in m["cmds"]]}),
}


def test_the_forged_corpus_has_20_programs():
    assert len(FINAL) + len(FLUSH) >= 20


@pytest.mark.parametrize("case", sorted(FINAL) + sorted(FLUSH))
def test_a_forged_message_ends_the_instance_with_a_protocol_error(case, tenant, clock, make_workflow, drive, forge,
                                                                  side_effects):
    if case in FINAL:
        forge.final = FINAL[case]
    else:
        forge.message = FLUSH[case]
    inst = run_instance(tenant, make_workflow, drive, PROGRAM, case.replace("_", "-")[:50])
    assert inst.status == "errored", (inst.status, inst.output)
    assert inst.error["name"] == "ProtocolError", inst.error
    assert inst.output is None
    # Nothing of the refused message was written, and usage counts only what was accepted.
    steps = {s.name: s for s in StepRecord.objects.filter(instance=inst)}
    assert set(steps) <= {"a", "s"}, sorted(steps)
    assert usage_steps(tenant) == Attempt.objects.filter(step__instance=inst).count() <= 2
    assert all(s.output is None or len(s.output) < 100 for s in steps.values())
    assert side_effects("s") <= 1
    if case in FLUSH and case.startswith(("foreign", "capability_args")):
        assert side_effects("s") == 0  # the refused call was never made
    # Every read of it still answers, as JSON.
    api = Api(__import__("tenants.access", fromlist=["x"]).api_key_create(tenant=tenant, name="t", role="viewer")[1])
    one = api.get(f"/instances/{inst.pk}")
    assert one.status_code == 200 and one.data["error"]["name"] == "ProtocolError"
    listed = api.get("/instances")
    assert listed.status_code == 200 and listed.data["items"][0]["status"] == "errored"
    assert api.get(f"/instances/{inst.pk}/progress").status_code == 200


def test_without_forgery_the_program_runs_to_its_wait(tenant, clock, make_workflow, drive, forge, side_effects):
    """The control case of the forged corpus: the forge fixture itself changes nothing."""
    inst = run_instance(tenant, make_workflow, drive, PROGRAM, "control")
    assert inst.status == "waiting" and side_effects("s") == 1


def test_bad_stored_output_reads_as_null_not_500(tenant, clock, make_workflow, drive):
    """Rows written before the host checked outputs (or by hand) never break a read."""
    inst = run_instance(tenant, make_workflow, drive, BASE % "", "stored")
    Instance.objects.filter(pk=inst.pk).update(output="{not json")
    StepRecord.objects.filter(instance=inst, name="a").update(output="[" * 50000)
    api = Api(__import__("tenants.access", fromlist=["x"]).api_key_create(tenant=tenant, name="t", role="viewer")[1])
    one = api.get(f"/instances/{inst.pk}")
    assert one.status_code == 200 and one.data["output"] is None and one.data["steps"][0]["output"] is None
    listed = api.get("/instances")
    assert listed.status_code == 200 and listed.data["items"][0]["output"] is None


def test_the_host_caps_logs_whatever_the_runtime_sends():
    limits = protocol.Limits(now=0, max_output=1 << 20, max_logs=3, max_log_bytes=10, max_commands=100,
                             capabilities=frozenset())
    session = protocol.Session(limits=limits, states={}, inbox={})
    lines = [{"t": "log", "l": "info", "s": None, "m": "12345"} for _ in range(10)]
    accepted = session.commands(lines)
    assert [c["m"] for c in accepted] == ["12345", protocol.LOG_LIMIT_LINE]
