"""`manage.py bench console`: seed a large platform and time the operator console's pages.

Seeds TENANTS tenants (one workflow and version each) and INSTANCES instances spread over 30 days in
every status, each with STEPS step records and an attempt per step, plus a month of usage, worker
heartbeats and an hour of activity (bulk inserts: about a minute on SQLite). Then, as a staff user
through Django's test Client (the whole request path: middleware, admin, templates), it times the
dashboard, the tenant list, the instance list (default and filtered by status, tenant and error
text), an instance detail and /metrics, and prints p50/max milliseconds and query counts as JSON;
then it runs retention over the seeded tenants and reports how long each batch's transaction took.
Everything it made is deleted at the end (unless --keep), whatever the database (SQLite or
PostgreSQL via DATABASE_URL).
"""
from __future__ import annotations

import hashlib
import statistics
import time
import uuid
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from builder.models import Workflow, WorkflowVersion
from tenants.models import Tenant, Usage

from engine import progress
from engine.models import ActivityMinute, Attempt, Instance, ProgressEvent, StepRecord, WorkerHeartbeat

PROGRAM = "export default async function run(event, step) { return await step.do('a', async () => 1); }"
# (status, share of instances) — most instances on a busy platform are finished.
MIX = [("complete", 70), ("errored", 10), ("terminated", 4), ("waiting", 8), ("queued", 4), ("paused", 2),
       ("running", 2)]
CHUNK = 2000


def status_for(i: int) -> str:
    slot, acc = i % 100, 0
    for status, share in MIX:
        acc += share
        if slot < acc:
            return status
    return "complete"


class ConsoleBench:
    def __init__(self, *, tenants: int, instances: int, steps: int, repeat: int, out=None):
        self.n_tenants, self.n_instances, self.n_steps, self.repeat = tenants, instances, steps, repeat
        self.prefix = f"bc{uuid.uuid4().hex[:6]}"
        self.out = out

    def say(self, text: str) -> None:
        if self.out:
            self.out.write(text)
            self.out.flush()

    # ---- seeding ------------------------------------------------------------------------------
    def seed(self) -> dict:
        started = time.perf_counter()
        now = timezone.now()
        self.tenants = Tenant.objects.bulk_create(
            [Tenant(slug=f"{self.prefix}-{t:04d}", name=f"Bench tenant {t}") for t in range(self.n_tenants)])
        workflows = Workflow.objects.bulk_create(
            [Workflow(tenant=t, slug="orders", name="Orders") for t in self.tenants])
        digest = hashlib.sha256(PROGRAM.encode()).hexdigest()
        versions = WorkflowVersion.objects.bulk_create(
            [WorkflowVersion(tenant_id=w.tenant_id, workflow=w, number=1, program=PROGRAM, program_hash=digest)
             for w in workflows])
        for w, v in zip(workflows, versions):
            w.published_version = v
        Workflow.objects.bulk_update(workflows, ["published_version"])
        pairs = list(zip(self.tenants, workflows, versions))
        span = 30 * 86400
        made = 0
        for base in range(0, self.n_instances, CHUNK):
            rows, steps = [], []
            for i in range(base, min(base + CHUNK, self.n_instances)):
                # Skewed over tenants (a few big ones), spread over the last 30 days, newest last.
                tenant, workflow, version = pairs[(i * i) % len(pairs) if i % 3 else i % len(pairs)]
                status = status_for(i)
                created = now - timedelta(seconds=span * (self.n_instances - i) / self.n_instances)
                finished = created + timedelta(seconds=5) if status in Instance.FINISHED else None
                due = {"waiting": now + timedelta(hours=1 + i % 48), "queued": now - timedelta(seconds=i % 30),
                       "running": now + timedelta(seconds=60)}.get(status)
                error = {"name": "Error", "message": f"upstream answered 50{i % 4} for order {i}"} if status == "errored" else None
                rows.append(Instance(
                    tenant=tenant, workflow=workflow, version=version, key=uuid.uuid4().hex, status=status,
                    params={"order": i}, output="1" if status == "complete" else None, error=error, due_at=due,
                    lease_owner="bench:worker" if status == "running" else "", created_at=created,
                    started_at=created + timedelta(seconds=1), finished_at=finished, last_event_id=0))
            with transaction.atomic():
                Instance.objects.bulk_create(rows)
                for inst in rows:
                    for n in range(self.n_steps):
                        steps.append(StepRecord(
                            tenant_id=inst.tenant_id, instance=inst, name=f"step_{n}", occurrence=1, kind="do",
                            status="complete", attempts=1, output=f'{{"n": {n}}}',
                            started_at=inst.created_at, finished_at=inst.created_at + timedelta(seconds=1)))
                StepRecord.objects.bulk_create(steps, batch_size=1000)
                Attempt.objects.bulk_create(
                    [Attempt(tenant_id=s.tenant_id, step=s, number=1, status="complete", started_at=s.started_at,
                             finished_at=s.finished_at) for s in steps], batch_size=1000)
            made += len(rows)
            if made % 20000 == 0:
                self.say(f"seeded {made} instances ({time.perf_counter() - started:.0f} s)")
        self.detail = Instance.objects.filter(tenant__in=self.tenants, status="errored").order_by("-created_at").first()
        with transaction.atomic():
            progress.record(instance_id=self.detail.pk, tenant_id=self.detail.tenant_id, now=now, items=[
                ("log", "step_0", None, {"level": "log", "message": f"line {n}"}) for n in range(50)])
        today = now.date()
        Usage.objects.bulk_create([
            Usage(tenant=t, day=today - timedelta(days=d), steps=(k + 1) * (d + 1), cpu_ms=k * 10, http_calls=k,
                  bytes_stored=1000 * k)
            for k, t in enumerate(self.tenants) for d in range(30)], batch_size=2000)
        WorkerHeartbeat.objects.bulk_create([
            WorkerHeartbeat(name=f"{self.prefix}:worker:{n}", mode="embedded" if n < 2 else "celery",
                            host="bench-host", pid=1000 + n, started_at=now - timedelta(hours=1), last_seen=now,
                            instances_advanced=1000 * n, steps=10_000 * n, programs_cached=12, program_hits=990,
                            program_misses=10, contexts_ready=4, context_hits=900, context_misses=100,
                            rss_bytes=200 * 2**20)
            for n in range(4)])
        minute = now.replace(second=0, microsecond=0)
        existing = set(ActivityMinute.objects.filter(minute__gte=minute - timedelta(minutes=60))
                       .values_list("minute", flat=True))
        self.minutes = ActivityMinute.objects.bulk_create([
            ActivityMinute(minute=minute - timedelta(minutes=m), advances=100 + m, steps=1000 + 10 * m,
                           recoveries=int(m % 7 == 0))
            for m in range(60) if minute - timedelta(minutes=m) not in existing])
        return {"tenants": self.n_tenants, "instances": self.n_instances,
                "step_records": self.n_instances * self.n_steps, "attempts": self.n_instances * self.n_steps,
                "seconds": round(time.perf_counter() - started, 1)}

    # ---- timing -------------------------------------------------------------------------------
    def pages(self) -> dict[str, str]:
        tenant = self.detail.tenant_id
        return {
            "dashboard": "/admin/",
            "tenant_list": "/admin/tenants/tenant/",
            "instance_list": "/admin/engine/instance/",
            "instance_list_status_errored": "/admin/engine/instance/?status__exact=errored",
            "instance_list_status_waiting": "/admin/engine/instance/?status__exact=waiting",
            "instance_list_tenant": f"/admin/engine/instance/?tenant__id__exact={tenant}",
            "instance_list_error_text": "/admin/engine/instance/?error=answered+503",
            "instance_list_error_text_rare": "/admin/engine/instance/?error=order+77",
            "instance_detail": f"/admin/engine/instance/{self.detail.pk}/change/",
            "tenant_detail": f"/admin/tenants/tenant/{tenant}/change/",
            "metrics": "/metrics",
        }

    def time_pages(self) -> dict:
        self.user = User.objects.create_superuser(f"{self.prefix}-ops", f"{self.prefix}@example.com", "x")
        client = Client(HTTP_HOST="localhost")
        client.force_login(self.user)
        figures = {}
        for name, url in self.pages().items():
            first = client.get(url)  # warm: templates, caches, the database's pages
            if first.status_code != 200:
                figures[name] = {"url": url, "status": first.status_code, "location": first.get("Location")}
                continue
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            # Read now: the next request resets the connection's query log the slice points into.
            count, slowest_ms = len(queries), slowest(queries)
            times = []
            for _ in range(self.repeat):
                t = time.perf_counter()
                answer = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, (url, answer.status_code)
            figures[name] = {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
                             "queries": count, "slowest_query_ms": slowest_ms}
        return figures

    # ---- retention ----------------------------------------------------------------------------
    def retention(self) -> dict:
        """Retention over the seeded tenants (1 day): how long each batch's transaction lasts, which
        is the longest an engine commit waits for it (SQLite has one writer). Only the seeded
        tenants are touched: retention_run would apply every tenant's policy."""
        from django.conf import settings

        from engine import retention

        batch = settings.ENGINE_RETENTION_BATCH
        now = timezone.now()
        Tenant.objects.filter(pk__in=[t.pk for t in self.tenants]).update(limits={"retention_days": 1})
        durations, deleted = [], 0
        started = time.perf_counter()
        for tenant in Tenant.objects.filter(pk__in=[t.pk for t in self.tenants]):
            cutoff = retention.cutoff_for(tenant, now=now)
            while True:
                t = time.perf_counter()
                n = retention.delete_batch(tenant=tenant, cutoff=cutoff, now=now, batch=batch)
                if not n:
                    break
                durations.append((time.perf_counter() - t) * 1000)
                deleted += n
        return {"instances_deleted": deleted, "batches": len(durations), "batch_size": batch,
                "batch_p50_ms": round(statistics.median(durations), 1) if durations else None,
                "batch_max_ms": round(max(durations), 1) if durations else None,
                "instances_per_second": round(deleted / (time.perf_counter() - started))}

    # ---- cleanup ------------------------------------------------------------------------------
    def cleanup(self) -> None:
        ids = [t.pk for t in getattr(self, "tenants", [])]
        tenant_in = f"tenant_id IN ({', '.join(['%s'] * len(ids))})"
        with connection.cursor() as cursor:
            if ids:
                # Children first, by the tenant column every engine table has: Django's cascade
                # would load a million rows into memory to find what to delete.
                for model in (Attempt, ProgressEvent, StepRecord, Instance):
                    cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {tenant_in}", ids)
        Tenant.objects.filter(pk__in=ids).delete()  # workflows, versions, usage
        WorkerHeartbeat.objects.filter(name__startswith=f"{self.prefix}:").delete()
        ActivityMinute.objects.filter(pk__in=[m.pk for m in getattr(self, "minutes", []) if m.pk]).delete()
        User.objects.filter(username=f"{self.prefix}-ops").delete()


def slowest(queries: CaptureQueriesContext) -> float:
    return round(max((float(q["time"]) * 1000 for q in queries.captured_queries), default=0.0), 1)


def run(*, tenants: int, instances: int, steps: int, repeat: int, keep: bool, out=None) -> dict:
    bench = ConsoleBench(tenants=tenants, instances=instances, steps=steps, repeat=repeat, out=out)
    figures: dict = {"database": connection.vendor}
    try:
        figures["seed"] = bench.seed()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would have after a bulk load
        figures["pages"] = bench.time_pages()
        slow = [n for n, f in figures["pages"].items() if f.get("max_ms", 1e9) >= 300]
        figures["all_under_300_ms"] = not slow
        if slow:
            figures["over_300_ms"] = slow
        if not keep:
            figures["retention"] = bench.retention()
    finally:
        if keep:
            figures["kept_prefix"] = bench.prefix
        else:
            bench.cleanup()
    return figures
