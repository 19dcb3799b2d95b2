"""Fencing: a worker's right to act ends with its lease. A paused worker makes no capability call
and commits nothing once another worker has taken its instance over, and every step.http request
carries an Idempotency-Key unique per (instance, step, occurrence, attempt, call)."""
import json
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import services
from engine.capabilities import http as http_cap
from engine.models import Attempt, Instance, StepRecord
from tests.processes import start_engine_worker, stop, wait_for

from .capabilities import count, create_table


class Receiver:
    """A loopback HTTP server standing for a payment API: records every request it gets."""

    def __init__(self):
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append({"path": self.path, "key": self.headers.get("idempotency-key"),
                                          "headers": dict(self.headers), "body": body.decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


PAY = """
export default async function run(event, step) {
  return await step.do("pay", { retries: { limit: 3, delay: 0 } }, async (ctx) => {
    // The first attempt is held in the host long enough to pause its worker there.
    await step.sideEffect({ label: "before-" + ctx.attempt, sleep: ctx.attempt === 1 ? 4 : 0 });
    const res = await step.http({ url: "%s/charge", method: "POST", json: { attempt: ctx.attempt } });
    return { status: res.status, attempt: ctx.attempt };
  });
}"""
MARKER = "export default async function run(e, step) { return await step.do('m', () => step.sideEffect({ label: 'marker' })); }"


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_worker_paused_past_its_lease_makes_no_call_and_commits_nothing(tenant, make_workflow, receiver):
    create_table()
    env = {"ENGINE_LEASE_SECONDS": "3", "ENGINE_HTTP_ALLOWED_PRIVATE": "127.0.0.1",
           "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(PAY % receiver.url))
    first = start_engine_worker("fencing-worker-1", **env)
    second = None
    try:
        wait_for(lambda: count("before-1") == 1, what="attempt 1 to reach its side effect")
        first.send_signal(signal.SIGSTOP)  # paused inside attempt 1, holding the lease
        second = start_engine_worker("fencing-worker-2", **env)
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", what="the other worker to finish the instance")
        stop(second)
        settled = (json.loads(Instance.objects.get(pk=inst.pk).output),
                   list(Attempt.objects.filter(step__instance=inst).order_by("number").values_list("number", "status", "fence")))
        first.send_signal(signal.SIGCONT)
        # Only the stale worker runs now; once it has finished a new instance, it is past the stale advance.
        marker = services.instance_create(tenant=tenant, workflow=make_workflow(MARKER, slug="marker"))
        wait_for(lambda: Instance.objects.get(pk=marker.pk).status == "complete", what="the resumed worker to go on")
    finally:
        first.send_signal(signal.SIGCONT)
        stop(first)
        if second:
            stop(second)
    # The resumed worker's attempt 1 reached the receiver with nothing, and changed nothing.
    assert [json.loads(r["body"])["attempt"] for r in receiver.requests] == [2]
    output = json.loads(Instance.objects.get(pk=inst.pk).output)
    attempts = list(Attempt.objects.filter(step__instance=inst).order_by("number").values_list("number", "status", "fence"))
    assert (output, attempts) == settled
    assert output == {"status": 200, "attempt": 2}
    (n1, s1, f1), (n2, s2, f2) = attempts
    assert (s1, s2) == ("errored", "complete") and f2 > f1 > 0
    assert StepRecord.objects.get(instance=inst, name="pay").attempts == 2
    # Each attempt's key is its own, and the receiver saw each key once.
    keys = [r["key"] for r in receiver.requests]
    assert all(keys) and len(set(keys)) == len(keys)


def test_a_call_is_refused_once_the_lease_may_have_expired(tenant, clock, make_workflow, drive, receiver, settings,
                                                           monkeypatch):
    """The pause here is in the host, between the commit before the call and the request itself
    (a slow name lookup, standing for a GC pause or a stopped process): the worker's own clock
    says the lease may be gone, so the request is never sent and the advance stops."""
    settings.ENGINE_LEASE_SECONDS = 1.0
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]

    def slow_resolve(host, port):
        time.sleep(1.0)
        return ["127.0.0.1"]

    monkeypatch.setattr(http_cap, "resolve", slow_resolve)
    port = receiver.url.rsplit(":", 1)[1]
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      return await step.do("pay", () => step.http({{ url: "http://pay.test:{port}/charge", method: "POST", body: "x" }}));
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    from engine import runner

    assert runner.advance(inst.pk, worker="slow-worker") == "lost"
    assert receiver.requests == []
    step = StepRecord.objects.get(instance=inst, name="pay")
    assert (step.status, step.attempts) == ("running", 1)  # recovery will count it as a lost attempt


def test_every_attempt_and_call_has_its_own_idempotency_key(tenant, clock, make_workflow, drive, receiver, settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      const post = (body) => step.http({{ url: "{receiver.url}/c", method: "POST", body, headers: {{ "Idempotency-Key": "mine" }} }});
      await step.do("twice", async () => {{ await post("1"); await post("2"); return 1; }});
      await step.do("flaky", {{ retries: {{ limit: 2, delay: 0 }} }}, async (ctx) => {{
        await post("flaky-" + ctx.attempt);
        if (ctx.attempt < 3) throw new Error("again");
        return ctx.attempt;
      }});
      for (let i = 0; i < 2; i++) await step.do("loop", () => post("loop-" + i));
      return "done";
    }}""")
    for n in range(2):  # two instances of the same program: keys differ by instance too
        services.instance_create(tenant=tenant, workflow=wf, id=f"i{n}")
    drive()
    assert Instance.objects.filter(status="complete").count() == 2
    keys = [r["key"] for r in receiver.requests]
    assert len(keys) == 2 * 7 and len(set(keys)) == len(keys) and "mine" not in keys
