"""`manage.py bench resume`: what waking an instance costs as its history grows, where that time
goes, and ten parallel 200 ms HTTP steps (engine.calls), in a throwaway tenant deleted at the end.

Resume: an instance runs N steps then sleeps; each timed wake resumes it, runs one new step and
sleeps again (so every sample resumes the same history): first from the image of its sandbox the
previous advance kept (engine.snapshots; `image_bytes` is what the instance stores for it), then
with snapshots off, replaying the N checkpoints. The breakdown times the parts of one replay
separately: reading the step rows, building the program's init JSON, and the sandbox (parse the
init, replay the checkpoints, reach the sleep).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.db import connection

from builder.services import version_create_from_code, workflow_create
from engine import clock, runner, services
from engine.checkpoints import step_rows
from engine.counters import COUNTERS
from engine.models import Instance, Snapshot
from tenants.services import tenant_create

RESUME = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < event.payload.steps; i++) total += await step.do(`s${i}`, () => i);
  for (let n = 0; ; n++) {
    await step.sleep(`nap${n}`, "1 hour");
    total += await step.do(`after${n}`, () => n);
  }
}"""
PARALLEL = """
export default async function run(event, step) {
  const urls = [];
  for (let i = 0; i < 10; i++) urls.push(event.payload.url + "/" + i);
  const t = await Promise.all(urls.map((url, i) => step.do(`get${i}`, () => step.http({ url }))));
  return t.length;
}"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


class Moving:
    """The engine's clock, moved by the bench (each wake is an hour later)."""

    def __init__(self) -> None:
        self.at = clock.now()

    def __call__(self):
        return self.at


def run(*, sizes: tuple[int, ...] = (100, 1000, 10_000), wakes: int = 7, out=None) -> dict:
    settings.ENGINE_DISPATCH = "embedded"
    tenant = tenant_create(slug=f"bench-{uuid.uuid4().hex[:8]}")
    tenant.limits = {"steps_per_instance": 25_000}
    tenant.save()
    moving = Moving()
    clock.set_now(moving)
    try:
        figures = {"database": connection.vendor, "resume": {}}
        wf = workflow_create(tenant=tenant, slug="resume")
        version_create_from_code(workflow=wf, program=RESUME)
        wf.refresh_from_db()
        snapshots = settings.ENGINE_SNAPSHOTS, settings.ENGINE_SNAPSHOT_MIN_STEPS
        settings.ENGINE_SNAPSHOT_MIN_STEPS = min(sizes)
        for n in sizes:
            inst = services.instance_create(tenant=tenant, workflow=wf, params={"steps": n})
            settings.ENGINE_SNAPSHOTS = True
            while runner.advance(inst.pk, worker="bench") == "due":
                pass
            row: dict = {}
            for mode in ("snapshot", "replay"):
                settings.ENGINE_SNAPSHOTS = mode == "snapshot"
                resumes = COUNTERS.snapshot_resumes
                times, parts = [], []
                for _ in range(wakes):
                    moving.at += timedelta(hours=1, seconds=1)
                    t = time.perf_counter()
                    result = runner.advance(inst.pk, worker="bench")
                    times.append((time.perf_counter() - t) * 1000)
                    assert result == "released", result
                    if mode == "replay":
                        parts.append(breakdown(inst.pk, moving.at))
                if mode == "snapshot":
                    assert COUNTERS.snapshot_resumes - resumes == wakes, "a wake did not resume from the image"
                    row["image_bytes"] = len(Snapshot.objects.get(instance_id=inst.pk).image)
                row[f"{mode}_p50_ms"], row[f"{mode}_min_ms"] = pct(times, 0.5), round(min(times), 2)
            row.update({k: pct([p[k] for p in parts], 0.5) for k in parts[0]})
            figures["resume"][f"{n}_checkpoints"] = row
            if out:
                out.write(f"resume {n}: {row}\n")
        settings.ENGINE_SNAPSHOTS, settings.ENGINE_SNAPSHOT_MIN_STEPS = snapshots
        small, big = figures["resume"][f"{sizes[0]}_checkpoints"], figures["resume"][f"{sizes[-1]}_checkpoints"]
        for mode in ("snapshot", "replay"):
            figures["resume"][f"{mode}_ratio_largest_to_smallest"] = round(big[f"{mode}_p50_ms"] / small[f"{mode}_p50_ms"], 2)
        clock.set_now(None)
        figures["parallel_http"] = parallel_http(tenant)
        return figures
    finally:
        clock.set_now(None)
        Instance.objects.filter(tenant=tenant).delete()
        tenant.delete()


def breakdown(instance_id, now) -> dict:
    """The parts of a resume, timed apart (outside an advance: nothing is written)."""
    from engine.sandbox import ProgramRun
    from engine.programs import program_text

    inst = Instance.objects.select_related("version", "tenant").get(pk=instance_id)
    t = time.perf_counter()
    step_rows(inst.pk)
    read = time.perf_counter() - t
    adv = runner.Advance(instance=inst, worker="bench-breakdown", now=now)
    t = time.perf_counter()
    init = adv.init_json()
    build = time.perf_counter() - t - read
    def sandbox(program: str) -> float:
        t = time.perf_counter()
        run = ProgramRun(program=program, init=init, host=lambda text: {"stop": False}, limits=adv.limits)
        try:
            run.start()
            run.drain()
            run.finish()
        finally:
            run.close()
        return time.perf_counter() - t

    replay = sandbox(program_text(inst.version))
    boot = sandbox("export default async function run(event, step) { return 1; }")  # the same init, no replay
    return {"read_rows_ms": round(read * 1000, 2), "build_init_ms": round(build * 1000, 2),
            "sandbox_replay_ms": round(replay * 1000, 2), "of_which_boot_and_parse_init_ms": round(boot * 1000, 2),
            "init_bytes": len(init)}


def parallel_http(tenant) -> dict:
    """Ten steps each making one 200 ms request, started together, against a loopback server."""
    lock = threading.Lock()
    state = {"inflight": 0, "peak": 0}

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with lock:
                state["inflight"] += 1
                state["peak"] = max(state["peak"], state["inflight"])
            time.sleep(0.2)
            with lock:
                state["inflight"] -= 1
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    allowed = settings.ENGINE_HTTP_ALLOWED_PRIVATE
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    try:
        wf = workflow_create(tenant=tenant, slug="parallel")
        version_create_from_code(workflow=wf, program=PARALLEL)
        wf.refresh_from_db()
        times = []
        for concurrency in [10] * 5 + [1]:  # the last one with calls one at a time, for comparison
            tenant.limits = {**tenant.limits, "http_concurrency": concurrency}
            tenant.save()
            inst = services.instance_create(tenant=tenant, workflow=wf, params={"url": f"http://127.0.0.1:{srv.server_port}"})
            t = time.perf_counter()
            while runner.advance(inst.pk, worker="bench") == "due":
                pass
            times.append((time.perf_counter() - t) * 1000)
            assert Instance.objects.get(pk=inst.pk).status == "complete"
        one_at_a_time = times.pop()
    finally:
        settings.ENGINE_HTTP_ALLOWED_PRIVATE = allowed
        srv.shutdown()
        srv.server_close()
    return {"steps": 10, "server_delay_ms": 200, "advance_p50_ms": pct(times, 0.5), "advance_min_ms": round(min(times), 1),
            "server_peak_in_flight": state["peak"], "one_at_a_time_ms": round(one_at_a_time, 1), "note": "one advance: ten step.do(() => step.http(...)) in Promise.all"}
