"""Benchmarks that print JSON figures: `python manage.py bench engine` (or webhooks, or console:
the operator console's pages over a seeded load, console.bench_console; or live: live progress
through daphne, console.bench_live; or idle: idle workers, sleeping instances and waking
them, console.bench_idle; or resume: waking an instance as its history grows, and parallel HTTP
steps, console.bench_resume; or scale: many tenants, sleeping instances, Celery processes,
console.bench_scale).

Runs against the configured database (SQLite WAL by default; set DATABASE_URL for PostgreSQL) in a
throwaway tenant that is deleted at the end. The Celery figures need REDIS_URL (they start a
Celery worker process).
"""
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from builder.services import version_create_from_code, workflow_create
from engine import runner, services
from engine.models import Instance, StepRecord
from engine.worker import Supervisor
from engine.sandbox import POOL, ContextPool, ProgramRun, default_limits, prelude_image, warm_guest
from tenants.services import tenant_create

TRIVIAL_STEPS = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < event.payload.steps; i++) total += await step.do(`s${i}`, () => i);
  return total;
}"""
RESUME = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < 1000; i++) total += await step.do(`s${i}`, () => i);
  await step.sleep("nap", "1 second");
  return await step.do("last", () => total);
}"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 2)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Command(BaseCommand):
    help = "Benchmark the engine and print JSON figures."

    def add_arguments(self, parser):
        parser.add_argument("suite", choices=["engine", "webhooks", "console", "live", "idle", "resume", "deploycheck",
                                              "scale"])
        parser.add_argument("--checked", type=int, default=200, help="deploycheck: sleeping instances the check replays")
        parser.add_argument("--events", type=int, default=300, help="live: events committed for the lag figures")
        parser.add_argument("--history", type=int, default=30_000, help="live: events replayed")
        parser.add_argument("--subscribers", type=int, default=100, help="live: subscribers of one instance for the fan-out")
        parser.add_argument("--requests", type=int, default=3000)
        parser.add_argument("--concurrency", type=int, default=50)
        parser.add_argument("--quick", action="store_true", help="fewer repetitions")
        parser.add_argument("--tenants", type=int, default=200, help="console: tenants to seed")
        parser.add_argument("--instances", type=int, default=100_000, help="console: instances to seed")
        parser.add_argument("--steps", type=int, default=3, help="console: step records (and attempts) per instance")
        parser.add_argument("--repeat", type=int, default=7, help="console: timed requests per page")
        parser.add_argument("--keep", action="store_true", help="console: keep the seeded rows")
        parser.add_argument("--sleeping", type=int, default=100_000, help="idle: sleeping instances to seed")
        parser.add_argument("--wake", type=int, default=10_000, help="idle: sleeping instances woken at once")
        parser.add_argument("--window", type=float, default=30.0, help="idle: seconds of CPU measurement")
        parser.add_argument("--wake-modes", default="embedded,celery",
                            help="idle: the modes whose drain and wake are measured (celery needs REDIS_URL)")
        ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
        parser.add_argument("--tenant-sizes", type=ints, default=[10_000, 100_000],
                            help="scale: numbers of tenants with due work, comma-separated")
        parser.add_argument("--heavy", type=int, default=10, help="scale: tenants with a backlog among them")
        parser.add_argument("--backlog", type=int, default=1000, help="scale: due instances of each heavy tenant")
        parser.add_argument("--flood", type=int, default=10_000, help="scale: tenant A's flood (Celery fairness)")
        parser.add_argument("--processes", type=ints, default=[1, 2, 4], help="scale: Celery worker processes to compare")
        parser.add_argument("--scale-instances", type=int, default=300, help="scale: 10-step instances per process count")
        parser.add_argument("--only", default="", help="scale: sections to run, comma-separated (console.bench_scale)")
        parser.add_argument("--signed", action="store_true", help="webhooks: Standard Webhooks signatures (else auth none)")

    def handle(self, *args, suite, quick=False, **options):
        if suite == "resume":
            from console import bench_resume

            figures = bench_resume.run(sizes=(100, 1000) if quick else (100, 1000, 10_000), out=self.stderr)
            self.stdout.write(json.dumps(figures, indent=2))
            return
        if suite == "live":
            from console import bench_live

            figures = bench_live.run(events=options["events"], history=options["history"],
                                     subscribers=options["subscribers"], out=self.stderr)
            self.stdout.write(json.dumps(figures, indent=2))
            return
        if suite == "scale":
            from console import bench_scale

            self.stdout.write(json.dumps(bench_scale.run(options, out=self.stderr), indent=2))
            return
        if suite == "deploycheck":
            from console import bench_deploycheck

            self.stdout.write(json.dumps(bench_deploycheck.run(checked=options["checked"], out=self.stderr), indent=2))
            return
        if suite == "idle":
            from console import bench_idle

            figures = bench_idle.run(sleeping=options["sleeping"], wake=options["wake"], window=options["window"],
                                     modes=options["wake_modes"].split(","), out=self.stderr)
            self.stdout.write(json.dumps(figures, indent=2))
            return
        if suite == "console":
            from console import bench_console

            figures = bench_console.run(tenants=options["tenants"], instances=options["instances"],
                                        steps=options["steps"], repeat=options["repeat"], keep=options["keep"],
                                        out=self.stderr)
            self.stdout.write(json.dumps(figures, indent=2))
            return
        settings.ENGINE_DISPATCH = "embedded"  # inline advances; the Celery figures start their own worker
        self.tenant = tenant_create(slug=f"bench-{uuid.uuid4().hex[:8]}")
        self.worker = "bench"
        if suite == "webhooks":
            try:
                self.stdout.write(json.dumps(self.webhooks(options["requests"], options["concurrency"], options["signed"]), indent=2))
            finally:
                Instance.objects.filter(tenant=self.tenant).delete()
                self.tenant.delete()
            return
        try:
            figures = {"database": connection.vendor, "cpus": os.cpu_count()}
            figures["sandbox"] = self.sandbox()
            figures["context_pool"] = self.pool_hit_rate()
            figures["one_instance_1000_steps"] = self.one_big()
            figures["100_instances_x_10_steps"] = self.many(100 if not quick else 20)
            figures["10_step_instance_create_to_complete_ms"] = self.latency(50 if not quick else 10)
            figures["resume_1000_checkpoints_ms"] = self.resume()
            figures["cold_worker_start_to_first_step_ms"] = self.cold_start()
            figures["fairness"] = self.fairness(10_000 if not quick else 2_000)
            if os.environ.get("REDIS_URL"):
                figures["celery"] = self.celery(30 if not quick else 10)
            self.stdout.write(json.dumps(figures, indent=2))
        finally:
            Instance.objects.filter(tenant=self.tenant).delete()  # versions are protected while instances exist
            self.tenant.delete()

    def workflow(self, program: str):
        wf = workflow_create(tenant=self.tenant, slug=f"w{uuid.uuid4().hex[:8]}")
        version_create_from_code(workflow=wf, program=program)
        wf.refresh_from_db()
        return wf

    def run_inline(self, instance_id) -> None:
        while runner.advance(instance_id, worker=self.worker) == "due":
            pass

    def sandbox(self) -> dict:
        warm_guest()
        prelude_image()
        init = json.dumps({"now": 0, "clock": 0, "seed": "s", "records": [], "outputs": [], "inbox": [], "params": None,
                           "created": "", "instanceId": "x", "maxOutput": 1 << 20, "memoryMiB": 64,
                           "timeLimitMs": 30000, "maxLogBytes": 1000, "flushEvery": 100, "maxLogs": 10,
                           "capabilities": [], "pureCapabilities": [], "trace": False})
        program = "export default async function run(event, step) { return await step.do('a', () => 1); }"
        pool = ContextPool(0)
        made, runs, evals = [], [], []
        for _ in range(300):
            t = time.perf_counter()
            runtime, ctx = pool.make()
            made.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            ctx.eval("1 + 1")
            evals.append((time.perf_counter() - t) * 1000)
            ctx.close()
            runtime.close()
        for _ in range(200):
            t = time.perf_counter()
            run = ProgramRun(program=program, init=init, host=lambda m: {}, limits=default_limits())
            run.start()
            run.drain()
            run.finish()
            run.close()
            runs.append((time.perf_counter() - t) * 1000)
        before = rss_mb()
        idle = [pool.make() for _ in range(100)]
        per_context = (rss_mb() - before) / len(idle)
        for runtime, ctx in idle:
            ctx.close()
            runtime.close()
        # A memory bomb under the default 64 MiB limit: how fast it is stopped, what it costs the host.
        bomb = "export default async function run(e, step) { const a = []; for (;;) a.push(new ArrayBuffer(8 << 20)); }"
        before = rss_mb()
        t = time.perf_counter()
        run = ProgramRun(program=bomb, init=init, host=lambda m: {}, limits=default_limits())
        run.start()
        run.drain()
        outcome = json.loads(run.finish())["outcome"]
        stopped = (time.perf_counter() - t) * 1000
        grew = rss_mb() - before
        run.close()
        return {
            "fresh_context_p50_ms": pct(made, 0.5), "fresh_context_p99_ms": pct(made, 0.99),
            "tiny_eval_in_warm_context_p50_us": round(pct(evals, 0.5) * 1000),
            "fresh_context_plus_one_step_program_p50_ms": pct(runs, 0.5),
            "memory_per_idle_context_mb": round(per_context, 2),
            "memory_bomb": {"stopped_after_ms": round(stopped), "error": (outcome or {}).get("error", {}).get("name"),
                            "host_rss_growth_mb": round(grew, 1)},
        }

    def pool_hit_rate(self) -> dict:
        """Instances arriving one at a time (the worker idles between them) vs. a burst of 100."""
        wf = self.workflow(TRIVIAL_STEPS)
        POOL.hits = POOL.misses = 0
        for _ in range(20):
            POOL.fill()  # what the worker loop does when no instance is due
            inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 3})
            self.run_inline(inst.pk)
        trickle = POOL.stats()["hit_rate"]
        POOL.hits = POOL.misses = 0
        POOL.fill()
        batch = services.instance_create_batch(tenant=self.tenant, workflow=wf, items=[{"params": {"steps": 3}}] * 100)
        for inst in batch:
            self.run_inline(inst.pk)
        return {"pool_size": POOL.size, "one_at_a_time_hit_rate": trickle, "burst_of_100_hit_rate": POOL.stats()["hit_rate"]}

    def one_big(self) -> dict:
        wf = self.workflow(TRIVIAL_STEPS)
        inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 1000})
        t = time.perf_counter()
        self.run_inline(inst.pk)
        elapsed = time.perf_counter() - t
        assert Instance.objects.get(pk=inst.pk).status == "complete"
        return {"seconds": round(elapsed, 3), "durable_steps_per_s": round(1000 / elapsed)}

    def many(self, count: int) -> dict:
        wf = self.workflow(TRIVIAL_STEPS)
        batch = services.instance_create_batch(
            tenant=self.tenant, workflow=wf, items=[{"params": {"steps": 10}} for _ in range(count)])
        t = time.perf_counter()
        for inst in batch:
            self.run_inline(inst.pk)
        elapsed = time.perf_counter() - t
        assert StepRecord.objects.filter(instance__in=batch, status="complete").count() == count * 10
        return {"instances": count, "seconds": round(elapsed, 3), "durable_steps_per_s": round(count * 10 / elapsed)}

    def latency(self, count: int) -> dict:
        wf = self.workflow(TRIVIAL_STEPS)
        times = []
        for _ in range(count):
            t = time.perf_counter()
            inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 10})
            self.run_inline(inst.pk)
            times.append((time.perf_counter() - t) * 1000)
        return {"p50": pct(times, 0.5), "p90": pct(times, 0.9), "note": "create + advance in one process"}

    def resume(self) -> dict:
        wf = self.workflow(RESUME)
        results = []
        for _ in range(5):
            inst = services.instance_create(tenant=self.tenant, workflow=wf)
            self.run_inline(inst.pk)
            time.sleep(1.0)
            t = time.perf_counter()
            self.run_inline(inst.pk)
            results.append((time.perf_counter() - t) * 1000)
            assert Instance.objects.get(pk=inst.pk).status == "complete"
        return {"p50": pct(results, 0.5), "min": round(min(results), 2),
                "note": "claim + load 1,001 checkpoints + replay + 1 new step + release"}

    def cold_start(self) -> dict:
        wf = self.workflow(TRIVIAL_STEPS)
        first_step = lambda inst: StepRecord.objects.filter(instance=inst, status="complete").exists()  # noqa: E731
        inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 1})
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=settings.BASE_DIR,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not first_step(inst):
                time.sleep(0.002)
            fresh = (time.perf_counter() - t) * 1000
        finally:
            proc.terminate()
            proc.wait()
        # A supervised worker is forked from a forkserver that has Django and the engine imported.
        supervisor = Supervisor(1, restart_delay=0)
        supervisor.start()
        try:
            warm = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 1})
            while not first_step(warm):
                time.sleep(0.002)
            time.sleep(0.3)  # let the worker go idle
            inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 1})
            [pid] = supervisor.pids()
            t = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while not first_step(inst):
                time.sleep(0.002)
            forked = (time.perf_counter() - t) * 1000
        finally:
            supervisor.stop()
        return {"new_interpreter_ms": round(fresh), "supervised_replacement_ms": round(forked),
                "note": "to the first committed step; a replacement is forked from the warm forkserver"}

    def fairness(self, backlog: int) -> dict:
        """Another tenant's new instance while this one has `backlog` queued: how long until it completes."""
        from engine import dispatch, runner
        from engine.services import instance_create_batch

        self.tenant.limits = {"creations_per_minute": backlog * 2, "concurrent_instances": 1000}
        self.tenant.save()
        flood = self.workflow("export default async function run(e, step) { return 1; }")
        for _ in range(backlog // 100):
            instance_create_batch(tenant=self.tenant, workflow=flood, items=[{}] * 100)
        other = tenant_create(slug=f"bench-other-{uuid.uuid4().hex[:6]}")
        try:
            wf = workflow_create(tenant=other, slug="mine")
            version_create_from_code(workflow=wf, program="export default async function run(e, step) { return 2; }")
            wf.refresh_from_db()
            t = time.perf_counter()
            mine = services.instance_create(tenant=other, workflow=wf)
            advanced = 0
            while Instance.objects.get(pk=mine.pk).status != "complete":
                for pk in dispatch.due_ids(now=timezone.now()):
                    runner.advance(pk, worker="bench")
                    advanced += 1
                    if pk == mine.pk:
                        break
            elapsed = (time.perf_counter() - t) * 1000
        finally:
            Instance.objects.filter(tenant=other).delete()
            other.delete()
        return {"backlog_of_other_tenant": backlog, "new_instance_complete_ms": round(elapsed, 1),
                "advances_before_it": advanced - 1}

    def webhooks(self, total: int, concurrency: int, signed: bool = False) -> dict:
        """Deliveries to the embedded server (daphne, no engine workers) from an async client on
        loopback: 202s per second, latency, and instances created (must equal deliveries accepted)."""
        import asyncio

        import socket

        import base64
        import hashlib
        import hmac

        from builder.services import version_create_from_graph
        from tenants.secrets import secret_put

        self.tenant.limits = {"webhook_calls_per_minute": total * 10, "creations_per_minute": total * 10}
        self.tenant.save()
        wf = workflow_create(tenant=self.tenant, slug="hook")
        version_create_from_graph(workflow=wf, publish=True, graph={
            "nodes": [{"id": "hook", "type": "webhook", "position": {"x": 0, "y": 0}, "data": {"auth": "standard_webhooks" if signed else "none"}}], "edges": []})
        key = b"0123456789abcdef0123456789abcdef"
        secret_put(tenant=self.tenant, name="WEBHOOK_SECRET", value="whsec_" + base64.b64encode(key).decode())

        def auth_headers(n: int, body: bytes) -> str:
            if not signed:
                return f"Idempotency-Key: d-{n}\r\n"
            # Standard Webhooks' documented scheme: HMAC-SHA256 over "id.timestamp.body".
            at = str(int(time.time()))
            mac = hmac.new(key, f"d-{n}.{at}.".encode() + body, hashlib.sha256).digest()
            return f"webhook-id: d-{n}\r\nwebhook-timestamp: {at}\r\nwebhook-signature: v1,{base64.b64encode(mac).decode()}\r\n"
        port = 8765
        server = subprocess.Popen([sys.executable, "manage.py", "serve", "--workers", "0", "--port", str(port)],
                                  cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()  # up yet?
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(0.5)

            async def run() -> tuple[list[float], list[int], float]:
                # A bare HTTP/1.1 keep-alive client: an HTTP library would use more of the
                # machine's two cores than the server it measures.
                latencies, codes = [], []
                queue = iter(range(total))
                path = f"/hooks/{self.tenant.slug}/hook"

                async def lane():
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    for n in queue:
                        body = json.dumps({"n": n}).encode()
                        writer.write(
                            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            f"{auth_headers(n, body)}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                        t = time.perf_counter()
                        await writer.drain()
                        head = await reader.readuntil(b"\r\n\r\n")
                        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                          if line.lower().startswith(b"content-length")))
                        await reader.readexactly(length)
                        latencies.append((time.perf_counter() - t) * 1000)
                        codes.append(int(head.split(b" ")[1]))
                    writer.close()

                start = time.perf_counter()
                await asyncio.gather(*(lane() for _ in range(concurrency)))
                return latencies, codes, time.perf_counter() - start

            latencies, codes, elapsed = asyncio.run(run())
        finally:
            server.terminate()
            server.wait()
        accepted = codes.count(202)
        created = Instance.objects.filter(workflow=wf).count()
        return {"requests": total, "concurrency": concurrency, "auth": "standard_webhooks" if signed else "none", "accepted_202": accepted,
                "per_second": round(accepted / elapsed), "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
                "instances_created": created, "lost": accepted - created if accepted > created else 0,
                "doubled": created - accepted if created > accepted else 0,
                "other_statuses": sorted(set(codes) - {202})}

    def celery(self, count: int) -> dict:
        settings.ENGINE_DISPATCH = "celery"
        wf = self.workflow(TRIVIAL_STEPS)
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-c", "2", "-l", "warning",
                                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            warm = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 1})
            while Instance.objects.get(pk=warm.pk).status != "complete":
                time.sleep(0.01)
            times = []
            for _ in range(count):
                t = time.perf_counter()
                inst = services.instance_create(tenant=self.tenant, workflow=wf, params={"steps": 10})
                while Instance.objects.filter(pk=inst.pk, status="complete").count() == 0:
                    time.sleep(0.0005)
                times.append((time.perf_counter() - t) * 1000)
            batch = services.instance_create_batch(
                tenant=self.tenant, workflow=wf, items=[{"params": {"steps": 10}} for _ in range(100)])
            t = time.perf_counter()
            ids = [i.pk for i in batch]
            while Instance.objects.filter(pk__in=ids, status="complete").count() < len(ids):
                time.sleep(0.01)
            elapsed = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait()
            settings.ENGINE_DISPATCH = "embedded"
        return {"10_step_create_to_complete_ms": {"p50": pct(times, 0.5), "p90": pct(times, 0.9)},
                "100_instances_x_10_steps_durable_steps_per_s": round(1000 / elapsed), "worker_processes": 2}
