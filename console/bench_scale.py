"""`manage.py bench scale`: the engine at many tenants, asleep, and spread over processes (issue 14).

Sections (JSON, one key each; `--only a,b` runs some):
- `claims`: for each size in `--tenants` (default 10,000 and 100,000), that many tenants with due
  work (one instance each, plus `--heavy` tenants with a backlog of `--backlog` each), drained the
  way a worker does it (dispatch.due_ids, then lease.claim, then a release that finishes the
  instance: the dispatcher's work without a program run). Figures: dispatch cost per claim and per
  round (p50/p99), and fairness: when each tenant's first instance was claimed (max and p99 wait,
  in seconds and in claims) against the ideal of one round of every tenant.
- `celery_fairness` (REDIS_URL): tenant A floods `--flood` instances, a Celery worker (2 processes)
  and the pump drain them; tenant B's one instance, created once the drain runs: how long until
  it completes and how many of A's completed first.
- `sleeping`: `--sleeping` sleeping instances (console.bench_idle seeds them): bytes each, the RSS
  of two idle embedded workers (and, with REDIS_URL, a Celery worker's processes) with none and
  with all of them, and the wake of `--wake` timers firing at once (drain rate, lag percentiles).
- `scale_out` (REDIS_URL): durable steps/s with 1, 2 and 4 Celery worker processes (`--processes`)
  draining `--instances` instances of 10 steps each.
- `webhooks` (REDIS_URL): deliveries/s to the server in distributed mode (its committer sends
  task messages) beside the embedded figure, same client and load.

Other branches add sections through SECTIONS (name -> function(options, out) -> dict), e.g. resume
cost by history length and parallel host calls. Everything made is deleted at the end.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Any, Callable

from django.conf import settings
from django.db import connection, transaction

from builder.models import Workflow, WorkflowVersion
from engine import clock, dispatch, lease
from engine.models import Instance, TenantDue
from tenants.models import Tenant

ONE_STEP = 'export default async function run(e, step) { return await step.do("a", () => 1); }'
TEN_STEPS = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < 10; i++) total += await step.do(`s${i}`, () => i);
  return total;
}"""


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 3)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench scale: timed out waiting for {what}")
        time.sleep(0.05)


# ---- bulk tenants ---------------------------------------------------------------------------------
class Tenants:
    """`count` tenants with one workflow and version each, by bulk inserts; deleted in chunks, the
    instances, versions and workflows first (the ORM's cascade through them is what costs)."""

    def __init__(self, count: int, program: str = ONE_STEP) -> None:
        prefix = f"bs{uuid.uuid4().hex[:6]}"
        digest = hashlib.sha256(program.encode()).hexdigest()
        self.ids: list[int] = []
        self.versions: list[tuple[int, int, int]] = []  # (tenant, workflow, version)
        for start in range(0, count, 5000):
            with transaction.atomic():
                tenants = Tenant.objects.bulk_create(
                    [Tenant(slug=f"{prefix}-{n}", name="Bench") for n in range(start, min(count, start + 5000))])
                workflows = Workflow.objects.bulk_create([Workflow(tenant=t, slug="w", name="w") for t in tenants])
                versions = WorkflowVersion.objects.bulk_create([
                    WorkflowVersion(tenant_id=w.tenant_id, workflow=w, number=1, program=program, program_hash=digest)
                    for w in workflows])
            self.ids += [t.pk for t in tenants]
            self.versions += [(v.tenant_id, v.workflow_id, v.pk) for v in versions]

    def instances(self, per_tenant: list[int], *, due_at, status: str = "queued") -> None:
        now = clock.now()
        rows = []
        for (tenant_id, workflow_id, version_id), n in zip(self.versions, per_tenant):
            rows += [Instance(tenant_id=tenant_id, workflow_id=workflow_id, version_id=version_id, key=uuid.uuid4().hex,
                              status=status, due_at=due_at, created_at=now) for _ in range(n)]
            if len(rows) >= 5000:
                Instance.objects.bulk_create(rows)
                rows = []
        Instance.objects.bulk_create(rows)

    def delete(self) -> None:
        for start in range(0, len(self.ids), 2000):
            chunk = self.ids[start:start + 2000]
            with transaction.atomic():
                Instance.objects.filter(tenant_id__in=chunk).delete()  # step records, events cascade
                TenantDue.objects.filter(tenant_id__in=chunk).delete()
                Workflow.objects.filter(tenant_id__in=chunk).update(published_version=None)
                WorkflowVersion.objects.filter(tenant_id__in=chunk)._raw_delete(connection.alias)
                Workflow.objects.filter(tenant_id__in=chunk)._raw_delete(connection.alias)
                Tenant.objects.filter(pk__in=chunk).delete()  # and what the runs added (usage, ...)


# ---- claims and fairness at many tenants -----------------------------------------------------------
def claims(size: int, *, heavy: int, backlog: int, out) -> dict:
    """Drain until every tenant's first instance was claimed (the heavy tenants' backlogs stay
    mostly due: they are what a round-robin must not let in front)."""
    out.write(f"[bench scale] claims: seeding {size} tenants with due work ({heavy} with {backlog} each)\n")
    t = time.perf_counter()
    tenants = Tenants(size)
    try:
        start = clock.now() - timedelta(seconds=1)
        tenants.instances([backlog if n < heavy else 1 for n in range(size)], due_at=start)
        dispatch.analyze()
        seeded = time.perf_counter() - t
        out.write(f"[bench scale] claims: seeded in {seeded:.0f} s; draining\n")
        first: dict[int, tuple[float, int]] = {}
        tenant_of = {}
        rounds, per_round, claimed, t0 = 0, [], 0, time.perf_counter()
        dispatch_s = claim_s = 0.0
        while len(first) < size:
            now = clock.now()
            t = time.perf_counter()
            ids = dispatch.due_ids(now=now)
            spent = time.perf_counter() - t
            dispatch_s += spent
            per_round.append(spent * 1000)
            rounds += 1
            if not ids:
                break
            for pk in ids:
                t = time.perf_counter()
                instance = lease.claim(pk, worker="bench-scale", now=now)
                claim_s += time.perf_counter() - t
                if instance is None:
                    continue
                claimed += 1
                tenant_of[pk] = instance.tenant_id
                first.setdefault(instance.tenant_id, (time.perf_counter() - t0, claimed))
                # The release of a finished instance (what the runner's last commit writes).
                Instance.objects.filter(pk=pk).update(status="complete", due_at=None, lease_owner="", finished_at=now)
        elapsed = time.perf_counter() - t0
        waits = [w for w, _ in first.values()]
        ranks = [r for _, r in first.values()]
        heavy_ids = set(tenants.ids[:heavy])
        return {
            "tenants_with_due_work": size, "heavy_tenants": heavy, "heavy_backlog_each": backlog,
            "due_instances": size - heavy + heavy * backlog, "seed_seconds": round(seeded, 1),
            "claims": claimed, "rounds": rounds, "seconds": round(elapsed, 1),
            "claims_per_s": round(claimed / elapsed, 1),
            "due_ids_ms_per_claim": round(dispatch_s * 1000 / max(claimed, 1), 3),
            "claim_ms_per_claim": round(claim_s * 1000 / max(claimed, 1), 3),
            "due_ids_ms": {"p50": pct(per_round, 0.5), "p99": pct(per_round, 0.99), "max": round(max(per_round), 2)},
            "first_claim_wait_s": {"p50": pct(waits, 0.5), "p99": pct(waits, 0.99), "max": round(max(waits), 2)},
            "first_claim_rank": {"p99": pct(ranks, 0.99), "max": max(ranks),
                                 "ideal_max": size, "note": "claims up to and including the tenant's first"},
            "heavy_claims_before_every_tenant_served": sum(1 for pk, tid in tenant_of.items() if tid in heavy_ids),
            "tenants_served": len(first),
        }
    finally:
        tenants.delete()


# ---- processes ---------------------------------------------------------------------------------------
def celery_worker(processes: int, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-c", str(processes), "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"scale{uuid.uuid4().hex[:6]}@%h"],
        cwd=settings.BASE_DIR, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pump_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "engine_pump"], cwd=settings.BASE_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def purge_queue() -> None:
    """Tokens left by an earlier section (harmless, but they would make the next one's figures)."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(dispatch.queue_name())


def celery_fairness(*, flood: int, out) -> dict:
    from engine.services import instance_create, instance_create_batch

    settings.ENGINE_DISPATCH = "celery"
    tenants = Tenants(2)
    a, b = (Tenant.objects.get(pk=pk) for pk in tenants.ids)
    a.limits = {"creations_per_minute": flood * 2, "concurrent_instances": 1000}
    a.save()
    wf_a, wf_b = (Workflow.objects.get(tenant=t) for t in (a, b))
    for wf in (wf_a, wf_b):
        wf.published_version = wf.versions.get()
        wf.save()
    purge_queue()
    out.write(f"[bench scale] celery fairness: tenant A floods {flood}\n")
    for _ in range(flood // 100):
        instance_create_batch(tenant=a, workflow=wf_a, items=[{}] * 100)
    worker, pump = celery_worker(2), pump_process()
    try:
        wait(lambda: Instance.objects.filter(tenant=a, status="complete").count() >= 20, 120, "the drain to start")
        t = time.perf_counter()
        mine = instance_create(tenant=b, workflow=wf_b)
        wait(lambda: Instance.objects.filter(pk=mine.pk, status="complete").exists(), 600, "tenant B's instance")
        elapsed = time.perf_counter() - t
        mine = Instance.objects.get(pk=mine.pk)
        before = Instance.objects.filter(tenant=a, status="complete", finished_at__lte=mine.finished_at,
                                         finished_at__gte=mine.created_at).count()
        left = Instance.objects.filter(tenant=a).exclude(status="complete").count()
    finally:
        stop(worker, pump)
        settings.ENGINE_DISPATCH = "embedded"
        purge_queue()
        tenants.delete()
    return {"flood": flood, "worker_processes": 2, "b_create_to_complete_ms": round(elapsed * 1000, 1),
            "a_completed_meanwhile": before, "a_still_due_when_b_completed": left}


def sleeping(*, count: int, wake: int, out) -> dict:
    from console.bench_idle import IdleBench

    bench = IdleBench(sleeping=count, wake=wake, window=0, out=out)
    result: dict[str, Any] = {}
    try:
        result["worker_rss_mb_none_sleeping"] = worker_rss(bench)
        result["sleeping_instance_bytes"] = bench.seed()
        result[f"worker_rss_mb_{count}_sleeping"] = worker_rss(bench)
        result["tenant_rows"] = TenantDue.objects.filter(tenant=bench.tenant).count()
        result["wake"] = bench.wake_drain()
    finally:
        bench.cleanup()
    return result


def worker_rss(bench) -> dict:
    """RSS of idle worker processes a few seconds after they started and looked for work."""
    from engine.worker import Supervisor

    supervisor = Supervisor(2, restart_delay=0)
    supervisor.start()
    try:
        wait(lambda: len(supervisor.pids()) == 2, 60, "2 embedded workers")
        time.sleep(5)
        figures = {"embedded": [rss_mb(pid) for pid in supervisor.pids()]}
    finally:
        supervisor.stop()
    if settings.REDIS_URL:
        from console.bench_idle import children

        worker = celery_worker(2)
        try:
            wait(lambda: len(children(worker.pid)) >= 2, 60, "2 Celery processes")
            time.sleep(5)
            figures["celery_children"] = [rss_mb(pid) for pid in children(worker.pid)]
        finally:
            stop(worker)
    return figures


def scale_out(*, processes: list[int], instances: int, out) -> dict:
    from engine.services import instance_create_batch

    settings.ENGINE_DISPATCH = "celery"
    tenants = Tenants(1, program=TEN_STEPS)
    tenant = Tenant.objects.get(pk=tenants.ids[0])
    tenant.limits = {"creations_per_minute": 10 ** 6, "concurrent_instances": 1000}
    tenant.save()
    wf = Workflow.objects.get(tenant=tenant)
    wf.published_version = wf.versions.get()
    wf.save()
    result: dict[str, Any] = {"database": connection.vendor, "steps_per_instance": 10, "instances": instances}
    try:
        for count in processes:
            purge_queue()
            worker, pump = celery_worker(count), pump_process()
            try:
                warm = instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * count * 2)
                wait(lambda: Instance.objects.filter(pk__in=[i.pk for i in warm], status="complete").count() == len(warm),
                     300, "the warm-up")
                out.write(f"[bench scale] scale-out: {count} Celery processes\n")
                batch = []
                t = time.perf_counter()
                for start in range(0, instances, 100):
                    batch += instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * min(100, instances - start))
                ids = [i.pk for i in batch]
                wait(lambda: Instance.objects.filter(pk__in=ids, status="complete").count() == len(ids), 1800,
                     "the instances")
                elapsed = time.perf_counter() - t
            finally:
                stop(worker, pump)
            result[f"{count}_processes"] = {"seconds": round(elapsed, 2), "durable_steps_per_s": round(len(ids) * 10 / elapsed),
                                            "instances_per_s": round(len(ids) / elapsed, 1)}
            Instance.objects.filter(tenant=tenant).delete()
    finally:
        settings.ENGINE_DISPATCH = "embedded"
        tenants.delete()
    result["note"] = f"{os.cpu_count()} CPUs: processes beyond the cores share them"
    return result


def webhooks(*, requests: int, concurrency: int, out) -> dict:
    """`bench webhooks` (the same client and load) against the server in embedded mode and in
    distributed mode, each in its own process with its own environment, on this database."""
    result: dict[str, Any] = {"database": connection.vendor}
    for mode in ("embedded", "distributed"):
        out.write(f"[bench scale] webhooks: {mode}\n")
        env = dict(os.environ)
        if mode == "embedded":
            env.pop("REDIS_URL", None)  # the server's environment decides its mode
        done = subprocess.run([sys.executable, "manage.py", "bench", "webhooks", "--requests", str(requests),
                               "--concurrency", str(concurrency)], cwd=settings.BASE_DIR, env=env,
                              capture_output=True, text=True, timeout=1800)
        result[mode] = json.loads(done.stdout) if done.returncode == 0 else {"failed": done.stderr[-2000:]}
        purge_queue()
    return result


# ---- the command's entry ----------------------------------------------------------------------------
def _claims(options, out) -> dict:
    result = {}
    for size in options["tenant_sizes"]:
        result[f"{size}_tenants"] = claims(size, heavy=options["heavy"], backlog=options["backlog"], out=out)
        out.write(f"[bench scale] {json.dumps(result[f'{size}_tenants'])}\n")  # kept if a later size is stopped
    return result


def _needs_redis(fn: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    def run(options, out):
        if not settings.REDIS_URL:
            return {"skipped": "needs REDIS_URL (distributed mode)"}
        return fn(options, out)
    return run


SECTIONS: dict[str, Callable[[dict, Any], dict]] = {
    "claims": _claims,
    "celery_fairness": _needs_redis(lambda o, out: celery_fairness(flood=o["flood"], out=out)),
    "sleeping": lambda o, out: sleeping(count=o["sleeping"], wake=o["wake"], out=out),
    "scale_out": _needs_redis(lambda o, out: scale_out(processes=o["processes"], instances=o["scale_instances"], out=out)),
    "webhooks": _needs_redis(lambda o, out: webhooks(requests=o["requests"], concurrency=o["concurrency"], out=out)),
}


def run(options: dict, out) -> dict:
    settings.ENGINE_DISPATCH = "embedded"  # the bench's own writes; sections that need Celery say so
    only = [s for s in (options.get("only") or "").split(",") if s] or list(SECTIONS)
    figures: dict[str, Any] = {"database": connection.vendor, "cpus": os.cpu_count(),
                               "load_average_at_start": os.getloadavg()}
    for name in only:
        t = time.perf_counter()
        try:
            figures[name] = SECTIONS[name](options, out)
        except Exception as e:  # keep what was measured; say what failed
            figures[name] = {"failed": f"{type(e).__name__}: {e}"}
        out.write(f"[bench scale] {name}: {time.perf_counter() - t:.0f} s {json.dumps(figures[name])}\n")
    return figures


__all__ = ["SECTIONS", "run"]
