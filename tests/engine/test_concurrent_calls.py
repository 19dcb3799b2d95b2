"""Capability calls started together run together: `Promise.all` over steps calling step.http
overlaps their requests (measured at a loopback server by how many were in flight at once, never
by timing), bounded by the plan's http_concurrency, with the commit rules of a single call: one
Idempotency-Key per (step, attempt, call), every step committed, fencing before each request."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import services
from engine.models import Instance, StepRecord
from tests.processes import start_engine_worker, stop, wait_for


class Gate:
    """Counts requests in flight; each waits until `release_at` are in flight (or a while passed),
    so a server that never sees them together answers late but still answers."""

    def __init__(self, release_at: int) -> None:
        self.release_at = release_at
        self.lock = threading.Lock()
        self.inflight = self.peak = 0
        self.keys: list[str] = []
        self.paths: list[str] = []
        self.together = threading.Event()


def make_server(gate: Gate):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with gate.lock:
                gate.inflight += 1
                gate.peak = max(gate.peak, gate.inflight)
                gate.keys.append(self.headers.get("Idempotency-Key"))
                gate.paths.append(self.path)
                if gate.inflight >= gate.release_at:
                    gate.together.set()
            gate.together.wait(timeout=10.0)  # only a server never reached together waits it out
            with gate.lock:
                gate.inflight -= 1
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def gate_server(settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    servers = []

    def start(release_at: int):
        gate = Gate(release_at)
        srv = make_server(gate)
        servers.append(srv)
        return gate, f"http://127.0.0.1:{srv.server_port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


PARALLEL = """
export default async function run(event, step) {{
  const names = [];
  for (let i = 0; i < {n}; i++) names.push("fetch" + i);
  const results = await Promise.all(names.map((name) =>
    step.do(name, () => step.http({{ url: "{url}/" + name }}))));
  const after = await step.do("after", () => results.length);
  return {{ paths: results.map((r) => r.json.path), after }};
}}"""


def test_ten_parallel_http_steps_are_in_flight_together(tenant, clock, make_workflow, drive, gate_server):
    gate, url = gate_server(10)
    wf = make_workflow(PARALLEL.format(n=10, url=url))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output) == {"paths": [f"/fetch{i}" for i in range(10)], "after": 10}
    assert gate.peak == 10  # all ten requests were at the server at once
    # One key per (step, attempt, call), as for calls made one at a time.
    assert len(set(gate.keys)) == 10 and all(gate.keys)
    steps = StepRecord.objects.filter(instance=inst, name__startswith="fetch")
    assert steps.count() == 10 and set(steps.values_list("status", flat=True)) == {"complete"}
    assert set(steps.values_list("attempts", flat=True)) == {1}


def test_parallel_calls_are_bounded_by_the_plan(tenant, clock, make_workflow, drive, gate_server):
    tenant.limits = {"http_concurrency": 3}
    tenant.save()
    gate, url = gate_server(3)
    wf = make_workflow(PARALLEL.format(n=7, url=url))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output)["paths"] == [f"/fetch{i}" for i in range(7)]
    assert gate.peak == 3
    assert len(set(gate.keys)) == 7


def test_a_failed_parallel_call_fails_only_its_step(tenant, clock, make_workflow, drive, gate_server):
    gate, url = gate_server(1)  # only "ok" reaches the server ("evil" is refused before it is sent)
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      const [ok, refused] = await Promise.allSettled([
        step.do("ok", () => step.http({{ url: "{url}/ok" }})),
        step.do("evil", {{ retries: {{ limit: 0 }} }}, () => step.http("http://169.254.169.254/")),
      ]);
      return {{ ok: ok.value.json.path, refused: refused.reason.name }};
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert json.loads(inst.output) == {"ok": "/ok", "refused": "HttpForbiddenError"}


def test_parallel_steps_calls_each_get_their_own_idempotency_key(tenant, clock, make_workflow, drive, gate_server):
    """With several steps in flight the runtime names the calling step (the host checks it has an
    attempt in flight): each call, including a second one after an await, gets a key of its own."""
    gate, url = gate_server(2)
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      await Promise.all([
        step.do("a", async () => {{ const r = await step.http({{ url: "{url}/a1" }}); return step.http({{ url: "{url}/a2" }}); }}),
        step.do("b", () => step.http({{ url: "{url}/b1" }})),
      ]);
      return 1;
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "complete"
    assert len(gate.keys) == 3 and len(set(gate.keys)) == 3


def test_an_instance_has_at_most_the_plans_steps(tenant, clock, make_workflow, drive):
    """steps_per_instance (default 10,000, at most 25,000): the step past it fails typed, and the
    host refuses it even from a runtime that would not."""
    from tenants.errors import InvalidInput
    from tenants.services import tenant_limits_set

    with pytest.raises(InvalidInput):
        tenant_limits_set(tenant=tenant, limits={"steps_per_instance": 25_001})
    with pytest.raises(InvalidInput):
        tenant_limits_set(tenant=tenant, limits={"http_concurrency": 101})
    tenant_limits_set(tenant=tenant, limits={"steps_per_instance": 5})
    wf = make_workflow("""
    export default async function run(event, step) {
      for (let i = 0; i < 4; i++) await step.do(`s${i}`, () => i);
      await step.sleep("nap", "1 second");
      try { await step.do("sixth", () => 6); } catch (e) { return e.name; }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    clock.advance(seconds=2)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output) == "StepLimitError"
    assert StepRecord.objects.filter(instance=inst).count() == 5


def test_the_host_refuses_a_step_past_the_plan():
    from engine.sandbox import ProtocolLimits, ProtocolViolation, Session, StepState

    limits = ProtocolLimits(now=0, max_output=1000, max_logs=10, max_log_bytes=1000, max_commands=100,
                            capabilities=frozenset(), max_steps=2)
    session = Session(limits=limits, states={("a", 1): StepState(kind="do", status="complete", attempts=1)}, inbox={})
    session.message(json.dumps({"cmds": [{"t": "sleep", "s": "b", "o": 1, "wake": 5}]}))
    with pytest.raises(ProtocolViolation, match="plan's limit"):
        session.message(json.dumps({"cmds": [{"t": "sleep", "s": "c", "o": 1, "wake": 5}]}))


def test_parallel_calls_are_fenced_like_one(tenant, clock, make_workflow, gate_server, settings, monkeypatch):
    """Each call checks the lease in its thread right before its request: a pause between the
    commit and the requests (a slow name lookup here) past the lease sends nothing."""
    from engine import runner
    from engine.capabilities import http as http_cap

    gate, url = gate_server(2)
    settings.ENGINE_LEASE_SECONDS = 1.0
    port = url.rsplit(":", 1)[1]

    def slow_resolve(host, port):
        time.sleep(1.0)
        return ["127.0.0.1"]

    monkeypatch.setattr(http_cap, "resolve", slow_resolve)
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      return await Promise.all(["a", "b"].map((name) =>
        step.do(name, () => step.http({{ url: "http://pay.test:{port}/" + name }}))));
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    assert runner.advance(inst.pk, worker="slow-worker") == "lost"
    assert gate.keys == []
    steps = StepRecord.objects.filter(instance=inst).order_by("name")
    assert list(steps.values_list("name", "status", "attempts")) == [("a", "running", 1), ("b", "running", 1)]


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_parallel_calls_together(tenant, make_workflow, gate_server):
    """The same through a real engine worker process (forked from the forkserver, threads and all)."""
    gate, url = gate_server(10)
    wf = make_workflow(PARALLEL.format(n=10, url=url))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    worker = start_engine_worker("parallel-calls-worker", ENGINE_HTTP_ALLOWED_PRIVATE="127.0.0.1")
    try:
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status in Instance.FINISHED, what="the instance to finish")
    finally:
        stop(worker)
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output)["after"] == 10
    assert gate.peak == 10


def test_a_call_whose_step_ended_before_it_went_out_still_runs(tenant, clock, make_workflow, drive, gate_server):
    """A step that starts a call without awaiting it and throws at once: the call goes out after
    the step's failure was committed; the host credits it to no step instead of refusing it."""
    gate, url = gate_server(1)
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      try {{
        await step.do("fire", {{ retries: {{ limit: 0 }} }}, () => {{ step.http({{ url: "{url}/orphan" }}); throw new Error("no"); }});
      }} catch (e) {{ return e.message; }}
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert (inst.status, json.loads(inst.output)) == ("complete", "no")
    assert gate.paths == ["/orphan"]


@pytest.mark.parametrize("message", [
    {"calls": [["secret", "\"K\"", None]]},  # only CONCURRENT capabilities may be started together
    {"calls": []},
    {"calls": [["http", "{", None]]},
    {"calls": [["http", "{}"]]},
    {"calls": [["http", "{}", 7]]},
    {"calls": [["http", "{}", None]], "cap": ["http", "{}"]},
    {"memory": True, "from": "a\x001"},
])
def test_the_host_refuses_malformed_calls(message):
    from engine.sandbox import ProtocolLimits, ProtocolViolation, Session

    limits = ProtocolLimits(now=0, max_output=1000, max_logs=10, max_log_bytes=1000, max_commands=100,
                            capabilities=frozenset({"http", "secret"}), concurrent=frozenset({"http"}))
    with pytest.raises(ProtocolViolation):
        Session(limits=limits, states={}, inbox={}).message(json.dumps(message))
