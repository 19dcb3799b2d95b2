"""Paths that only run when something goes wrong: step.http's timeout, transport error and
redirect limit (against a loopback server), a program stuck on a promise that is not a step, a
trapped sandbox, an advance that raises inside the worker loop, and a worker process over its
OS memory cap."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import runner, services, worker
from engine.models import Attempt, Instance, StepRecord
from engine.sandbox.runtime import ProgramRun, SandboxLimit
from tests.processes import wait_for

released = threading.Event()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/slow":  # answers only when the test ends: the client's timeout fires first
            released.wait(30)
            self.send_response(200)
            self.end_headers()
            return
        if self.path == "/hangup":  # closes the connection without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if self.path.startswith("/loop"):  # redirects forever
            n = int(self.path.rsplit("/", 1)[1]) if self.path.count("/") > 1 else 0
            self.send_response(302)
            self.send_header("location", f"/loop/{n + 1}")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')


@pytest.fixture
def server(settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    released.clear()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    released.set()
    srv.shutdown()
    srv.server_close()


def http_program(url: str, extra: str = "") -> str:
    return f"""
    export default async function run(event, step) {{
      try {{
        return await step.do("call", {{ retries: {{ limit: 0 }} }}, () => step.http({{ url: "{url}"{extra} }}));
      }} catch (e) {{ return {{ name: e.name, message: e.message }}; }}
    }}"""


@pytest.mark.parametrize("path, extra, name, message", [
    ("/slow", ", timeout: 300", "HttpTimeoutError", "timed out after 0.3 s"),
    ("/hangup", "", "HttpError", "failed"),
    ("/loop", "", "HttpError", "more than 5 redirects"),
])
def test_http_failures_are_typed_step_errors(tenant, clock, make_workflow, drive, server, path, extra, name, message):
    wf = make_workflow(http_program(server + path, extra), slug="http-" + path.strip("/"))
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    out = json.loads(inst.output)
    assert inst.status == "complete" and out["name"] == name and message in out["message"], out
    attempt = Attempt.objects.get(step__instance=inst, step__name="call")
    assert (attempt.status, attempt.error["name"]) == ("errored", name)


def test_a_program_awaiting_something_that_is_not_a_step_is_stuck(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("first", () => 1);
      await new Promise(() => {});  // nothing can ever settle this
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.error["name"]) == ("errored", "StuckError")
    assert StepRecord.objects.get(instance=inst, name="first").status == "complete"


def test_a_trapped_sandbox_is_replayed_in_trace_mode_then_fails_the_step_in_flight(tenant, clock, make_workflow, drive,
                                                                                 monkeypatch):
    """A context that trapped cannot say which steps were in flight. The runner replays at once in
    trace mode (each attempt committed as it starts); a second trap fails the attempt in flight
    with the limit that was hit, and the step's retry policy applies. The trap is injected where the
    sandbox reports it: no program can be relied on to trap the wasm instance."""
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("fine", () => 1);
      return await step.do("trap", { retries: { limit: 1, delay: "1 second" } }, (ctx) => {
        if (ctx.attempt === 1) for (;;) {}
        return "second attempt";
      });
    }""")
    tenant.limits = {"advance_time_seconds": 1}
    tenant.save()
    real = ProgramRun.interrupted

    def trapped(self, name, message, expired):
        raise SandboxLimit("SandboxTrap", "the sandbox stopped: unreachable")

    monkeypatch.setattr(ProgramRun, "interrupted", trapped)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    assert runner.advance(inst.pk, worker="w") == "due"  # nothing committed: replay at once, in trace mode
    inst.refresh_from_db()
    assert (inst.status, inst.recoveries, inst.due_at) == ("waiting", 2, clock.now())
    assert not StepRecord.objects.filter(instance=inst, name="trap").exists()
    runner.advance(inst.pk, worker="w")  # traps again, now with the attempt's start committed
    trap = StepRecord.objects.get(instance=inst, name="trap")
    limit = {"name": "TimeoutError", "message": "exceeded the time limit of 1 s"}  # the limit hit, not the trap after it
    assert trap.error == limit
    monkeypatch.setattr(ProgramRun, "interrupted", real)
    for _ in range(5):
        clock.advance(seconds=2)
        drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "second attempt")
    attempts = list(Attempt.objects.filter(step=trap).order_by("number").values_list("status", "error"))
    assert attempts[0] == ("errored", limit)
    assert attempts[-1] == ("complete", None)


@pytest.mark.timeout(120)
@pytest.mark.django_db(transaction=True)  # the worker closes its connection after a failure, as in production
def test_the_worker_loop_survives_an_advance_that_raises(tenant, clock, make_workflow, monkeypatch):
    wf = make_workflow("export default async function run(event, step) { return await step.do('a', () => event.payload); }")
    victim = services.instance_create(tenant=tenant, workflow=wf, params="victim")
    others = [services.instance_create(tenant=tenant, workflow=wf, params=n) for n in range(3)]
    real = runner.Advance.run

    def broken(self):
        if self.instance.pk == victim.pk:
            raise RuntimeError("the database went away")  # after the claim: the lease is held
        return real(self)

    monkeypatch.setattr(runner.Advance, "run", broken)
    assert worker.run(name="w", until_idle=True) == 3
    for n, inst in enumerate(others):
        inst.refresh_from_db()
        assert (inst.status, json.loads(inst.output)) == ("complete", n)
    assert Instance.objects.get(pk=victim.pk).lease_owner == "w"  # held until its lease expires
    monkeypatch.setattr(runner.Advance, "run", real)
    clock.advance(seconds=61)
    worker.run(name="w2", until_idle=True)
    victim.refresh_from_db()
    assert (victim.status, json.loads(victim.output)) == ("complete", "victim")


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_worker_over_its_memory_cap_fails_the_step_and_keeps_working(tenant, make_workflow, settings):
    """The plan lets the sandbox grow to 4 GiB, the worker process is capped (RLIMIT_DATA) far
    lower: the cap, not the plan, stops the bomb; the instance ends with a typed error and the
    worker runs the next instance."""
    from django.db import connection

    from engine.worker import Supervisor
    from tenants.services import tenant_limits_set

    tenant_limits_set(tenant=tenant, limits={"sandbox_memory_mb": 4096, "advance_time_seconds": 60})
    bomb = make_workflow("""
    export default async function run(event, step) {
      try {
        await step.do("bomb", { retries: { limit: 0 } }, () => { const a = []; for (;;) a.push(new Float64Array(1 << 20)); });
      } catch (e) { return e.name; }
    }""", slug="bomb")
    fine = make_workflow("export default async function run(e, step) { return await step.do('x', () => 42); }", slug="fine")
    databases = {"default": {**settings.DATABASES["default"], "NAME": connection.settings_dict["NAME"]}}
    supervisor = Supervisor(1, memory_mb=768, overrides={"DATABASES": databases, "ENGINE_LEASE_SECONDS": 2.0},
                            restart_delay=0.1)
    first = services.instance_create(tenant=tenant, workflow=bomb)
    supervisor.start()
    try:
        wait_for(lambda: Instance.objects.get(pk=first.pk).status in Instance.FINISHED, timeout=150,
                 what="the bomb instance to finish")
        after = services.instance_create(tenant=tenant, workflow=fine)
        wait_for(lambda: Instance.objects.get(pk=after.pk).status == "complete", timeout=60,
                 what="the next instance to complete")
    finally:
        supervisor.stop()
    first.refresh_from_db()
    outcome = json.loads(first.output) if first.output else None
    # Under RLIMIT_DATA the wasm memory cannot grow: QuickJS runs out of memory inside the sandbox,
    # so the step fails cleanly and the worker process lives on (no replacement was needed).
    assert (first.status, outcome, supervisor.restarts) == ("complete", "MemoryLimitError", 0), (first.error, first.output)
