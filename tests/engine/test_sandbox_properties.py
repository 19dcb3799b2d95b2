"""Generated programs: whatever a program does, the sandbox returns a well-formed result or a typed
limit, never anything else, and running it twice from the same checkpoints gives the same commands."""
import json
import os

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.sandbox.runtime import Limits, ProgramLoadError, ProgramRun, SandboxLimit
from tests.conftest import examples

EXPRESSIONS = st.sampled_from([
    "1 + 2", "x * 3", "Math.random()", "Date.now()", "JSON.stringify({ x })", "'a'.repeat(x % 50)",
    "[1, 2, 3].map((v) => v * x)", "x / 0", "null", "undefined", "({ a: x, b: [x, x] })", "new Date().toISOString()",
    "typeof process", "Number('nope')", "x.toString(2)", "Object.keys(globalThis).length", "-x", "`${x}`",
])
STATEMENTS = st.one_of(
    EXPRESSIONS.map(lambda e: f"x = (({e}) && 1) + x;"),
    st.tuples(st.text("abcdef", min_size=1, max_size=3), EXPRESSIONS).map(
        lambda t: f'x += Number(await step.do("{t[0]}", () => {t[1]})) || 1;'),
    st.sampled_from([
        'await step.sleep("nap", "1 minute");',
        'if (x > 5) throw new Error("too big " + x);',
        'try { await step.do("bad", { retries: { limit: 0 } }, () => { throw new TypeError("t"); }); } catch (e) { x += 1; }',
        'await Promise.all([step.do("p1", () => 1), step.do("p2", () => 2)]);',
        'console.log("x is", x);',
        'for (let i = 0; i < 100; i++) x = (x + i) % 97;',
        'x = JSON.parse(JSON.stringify({ x })).x;',
        'await step.waitForEvent("w", { type: "go", timeout: "1 hour" }).catch(() => 0);',
        'while (true) {}',
        'const big = []; for (;;) big.push(new Array(1e5).fill(1));',
    ]),
)


def init(now: int, time_ms: int = 50) -> str:
    return json.dumps({
        "now": now, "clock": 0, "seed": "seed", "records": [], "outputs": [], "inbox": [], "params": {"n": 1},
        "created": "2026-01-01T00:00:00Z", "instanceId": "p", "maxOutput": 1 << 20, "memoryMiB": 16,
        "timeLimitMs": time_ms, "maxLogBytes": 10000, "flushEvery": 100, "maxLogs": 100, "capabilities": [],
        "pureCapabilities": [], "trace": False,
    })


def run(program: str, time_seconds: float = 0.05) -> dict:
    flushed = []
    sandbox = ProgramRun(program=program, init=init(1000, int(time_seconds * 1000)), host=lambda m: flushed.append(m) or {},
                         limits=Limits(time_seconds=time_seconds, memory_bytes=16 << 20))
    try:
        sandbox.start()
        sandbox.drain()
        result = json.loads(sandbox.finish())  # the runtime's final message, as text
    except SandboxLimit as limit:
        result = {"limit": limit.name}
    except ProgramLoadError as e:
        result = {"load_error": str(e)}
    finally:
        sandbox.close()
    result["flushed"] = flushed
    return result


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="uses no database: runs once, in the embedded suite")
@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STATEMENTS, min_size=1, max_size=8))
def test_any_program_ends_cleanly_and_deterministically(statements):
    program = "export default async function run(event, step) { let x = event.payload.n;\n" + "\n".join(statements) + "\nreturn x; }"
    first = run(program)
    assert isinstance(first, dict)
    if "load_error" in first:
        assert first["load_error"].startswith("SyntaxError")
        return
    if "limit" in first:
        assert first["limit"] in ("TimeoutError", "MemoryLimitError", "StackOverflowError", "SandboxTrap")
        return
    assert set(first) >= {"cmds", "outcome", "wake"}
    if first["outcome"]:
        assert set(first["outcome"]) in ({"output"}, {"error"})
    if any("while (true)" in s or "for (;;) big" in s for s in statements):
        return  # cut by a limit: where it stopped depends on timing
    # Determinism is compared between two runs with a time limit no loaded machine reaches (the
    # 50 ms of the first run only keeps endless programs cheap): a timing cut is not a difference.
    first, again = run(program, time_seconds=5), run(program, time_seconds=5)
    assert "limit" not in first and "limit" not in again, (first.get("limit"), again.get("limit"))
    assert again["cmds"] == first["cmds"] and again["outcome"] == first["outcome"]
