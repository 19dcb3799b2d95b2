"""`manage.py bench idle`: what sleeping instances and idle workers cost, and how fast they wake.

Figures (JSON): idle CPU of each engine worker process (embedded and, with REDIS_URL, Celery with
its pump) with no instance and with N sleeping ones, read from /proc over a window; the cost of
the dispatch queries at both sizes; bytes per sleeping instance (one-step program: one sleep), once its progress rows are compacted and before;
the wake of W instances made due at once (drain rate, due-to-claim lag percentiles) beside the
plain advance rate of W new instances on the same workers; the context pool's hit rate on a
steady trickle in both modes.

Sleeping instances: a few hundred are created through engine.services and advanced by the real
engine until they sleep for 30 days; the rest are copies of their rows (new ids), which is what
the engine would have written, in a fraction of the time. Everything is deleted at the end.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from builder.services import version_create_from_code, workflow_create
from engine import clock, compaction, dispatch, runner, services
from engine.models import Instance, ProgressEvent, StepRecord, WorkerHeartbeat, new_id
from engine.worker import Supervisor
from tenants.services import tenant_create

SLEEPER = 'export default async function run(e, step) { await step.sleep("nap", "30 days"); return 1; }'
ONE_STEP = 'export default async function run(e, step) { return await step.do("a", () => 1); }'
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 3) if values else None


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def idle_cpu(pids: dict[str, int], window: float) -> dict[str, float]:
    """Percent of one core each process used over `window` seconds."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    t = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - t
    return {name: round((cpu_seconds(pid) - before[name]) / elapsed * 100, 3) for name, pid in pids.items()}


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench idle: timed out waiting for {what}")
        time.sleep(0.05)


def db_bytes() -> dict[str, int]:
    """Bytes used by the instance tables and each of their indexes (SQLite: dbstat after a
    checkpoint; PostgreSQL: relation sizes)."""
    tables = [m._meta.db_table for m in (Instance, StepRecord, ProgressEvent)]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("SELECT name, SUM(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master "
                           f"WHERE tbl_name IN ({', '.join(['%s'] * len(tables))})) GROUP BY name", tables)
        else:
            cursor.execute("SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                           f"JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname IN ({', '.join(['%s'] * len(tables))}) "
                           "UNION ALL SELECT relname, pg_table_size(oid) FROM pg_class "
                           f"WHERE relname IN ({', '.join(['%s'] * len(tables))})", tables + tables)
        return dict(cursor.fetchall())


def table_of(name: str) -> str:
    for model in (Instance, StepRecord, ProgressEvent):
        if model._meta.db_table == name or name in {i.name for i in model._meta.indexes} | {
                c.name for c in model._meta.constraints}:
            return model._meta.db_table
    with connection.cursor() as cursor:  # indexes named by the database or by Django's FK hashes
        if connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name FROM sqlite_master WHERE name = %s", [name])
        else:
            cursor.execute("SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid::regclass::text = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else name


class IdleBench:
    def __init__(self, *, sleeping: int, wake: int, window: float, out, modes: list[str] | None = None):
        self.sleeping, self.wake, self.window, self.out = sleeping, wake, window, out
        self.modes = modes or ["embedded", "celery"]
        self.tenant = tenant_create(slug=f"bench-idle-{uuid.uuid4().hex[:8]}")
        self.tenant.limits = {"creations_per_minute": 10 ** 7, "concurrent_instances": 10 ** 6}
        self.tenant.save()
        self.celery = bool(settings.REDIS_URL)
        self.woken = 0  # sleeping instances woken so far (each drain wakes others)

    def say(self, text: str) -> None:
        self.out.write(f"[bench idle] {text}\n")
        self.out.flush()

    def workflow(self, program: str):
        wf = workflow_create(tenant=self.tenant, slug=f"w{uuid.uuid4().hex[:8]}")
        version_create_from_code(workflow=wf, program=program)
        wf.refresh_from_db()
        return wf

    def run(self) -> dict:
        figures: dict[str, Any] = {"database": connection.vendor, "cpus": os.cpu_count(),
                                   "load_average_at_start": os.getloadavg(),
                                   "note": "CPU figures on a 2-core machine shared with other work; "
                                           "percent of one core per process over the window"}
        phases = [("empty", lambda: self.at_size(0)), ("context_pool", self.context_pool),
                  ("sleeping_instance_bytes", self.seed),
                  (f"with_{self.sleeping}_sleeping", lambda: self.at_size(self.sleeping)), ("wake", self.wake_drain)]
        try:
            for name, phase in phases:
                try:
                    figures[name] = phase()
                except Exception as e:  # keep what was measured; say what failed
                    figures[name] = {"failed": f"{type(e).__name__}: {e}"}
                    if name == "sleeping_instance_bytes":
                        break
        finally:
            self.cleanup()
        return figures

    # ---- idle ---------------------------------------------------------------------------------------
    def at_size(self, size: int) -> dict:
        self.say(f"dispatch query cost and idle CPU with {size} sleeping instances")
        result = {"sleeping_instances": Instance.objects.filter(tenant=self.tenant, status="waiting").count(),
                  "dispatch_query_ms": self.query_cost()}
        result["idle_cpu_percent_embedded"] = self.embedded_idle()
        if self.celery:
            result["idle_cpu_percent_celery"] = self.celery_idle()
        return result

    def query_cost(self) -> dict:
        costs: dict[str, list[float]] = {"due_ids": [], "next_due_at": [], "count_due": []}
        for _ in range(200):
            for name, fn in (("due_ids", lambda: dispatch.due_ids(now=clock.now())),
                             ("next_due_at", dispatch.next_due_at),
                             ("count_due", lambda: dispatch.count_due(now=clock.now(), cap=200))):
                t = time.perf_counter()
                fn()
                costs[name].append((time.perf_counter() - t) * 1000)
        return {name: {"p50": pct(v, 0.5), "max": round(max(v), 3)} for name, v in costs.items()}

    def embedded_idle(self) -> dict:
        supervisor = Supervisor(2, restart_delay=0)
        supervisor.start()
        try:
            wait(lambda: len(supervisor.pids()) == 2, 30, "2 embedded workers")
            time.sleep(3)  # past start-up (the guest module, the context pool)
            # By slot: worker_0 is the one that runs the pump hooks (engine.worker.child_main).
            cpu = idle_cpu({f"worker_{slot}": proc.pid for slot, proc in sorted(supervisor.procs.items())}, self.window)
        finally:
            supervisor.stop()
        return cpu

    def start_celery(self, extra_env: dict | None = None) -> tuple[subprocess.Popen, subprocess.Popen]:
        env = {**os.environ, **(extra_env or {})}
        worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-c", "2", "-l", "warning",
                                   "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                  cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pump = subprocess.Popen([sys.executable, "manage.py", "engine_pump"], cwd=settings.BASE_DIR, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return worker, pump

    def celery_idle(self) -> dict:
        worker, pump = self.start_celery()
        try:
            wait(lambda: len(children(worker.pid)) >= 2, 60, "2 Celery worker processes")
            time.sleep(5)
            pids = {"celery_main": worker.pid, "pump": pump.pid}
            pids.update({f"celery_child_{n}": pid for n, pid in enumerate(children(worker.pid))})
            cpu = idle_cpu(pids, self.window)
        finally:
            for proc in (worker, pump):
                proc.terminate()
                proc.wait()
        return cpu

    # ---- the context pool ------------------------------------------------------------------------------
    def context_pool(self, count: int = 40) -> dict:
        self.say("context pool hit rate on a trickle, both modes")
        wf = self.workflow(ONE_STEP)
        out = {}
        supervisor = Supervisor(1, restart_delay=0, overrides={"ENGINE_HEARTBEAT_SECONDS": 0.5})
        supervisor.start()
        try:
            out["embedded"] = self.trickles(wf, count, "embedded")
        finally:
            supervisor.stop()
        if self.celery:
            settings.ENGINE_DISPATCH = "celery"
            worker, pump = self.start_celery({"ENGINE_HEARTBEAT_SECONDS": "0.5"})
            try:
                out["celery"] = self.trickles(wf, count, "celery")
            finally:
                settings.ENGINE_DISPATCH = "embedded"
                for proc in (worker, pump):
                    proc.terminate()
                    proc.wait()
        return out

    def trickles(self, wf, count: int, mode: str) -> dict:
        """Every 200 ms (the worker idles between instances), and every 10 ms (faster than it
        advances them: it never idles, and refills its pool between advances only)."""
        return {"every_200_ms": self.trickle(wf, count, mode, 0.2), "every_10_ms": self.trickle(wf, count, mode, 0.01)}

    def trickle(self, wf, count: int, mode: str, interval: float) -> dict:
        """One new instance every `interval` seconds, whether or not the previous one is done (a
        steady trickle, not one at a time), then the pool's takes as the workers' heartbeats
        report them."""
        def totals() -> tuple[int, int]:
            # A row holds its process's totals since it started: count what each added since `before`.
            rows = WorkerHeartbeat.objects.filter(mode=mode).values_list("name", "context_hits", "context_misses")
            hits = sum(h - before.get(name, (0, 0))[0] for name, h, m in rows)
            return hits, sum(m - before.get(name, (0, 0))[1] for name, h, m in rows)

        before: dict = {}
        first = services.instance_create(tenant=self.tenant, workflow=wf)  # warm up: the first one misses
        wait(lambda: Instance.objects.filter(pk=first.pk, status="complete").exists(), 120, "a first instance")
        wait(lambda: sum(totals()) >= 1, 30, "a heartbeat with the first take")
        time.sleep(1.0)  # every process has beaten since (ENGINE_HEARTBEAT_SECONDS is 0.5 here)
        before = {name: (h, m) for name, h, m in
                  WorkerHeartbeat.objects.filter(mode=mode).values_list("name", "context_hits", "context_misses")}
        hits0 = misses0 = 0
        made, next_at = [], time.monotonic()
        for _ in range(count):
            made.append(services.instance_create(tenant=self.tenant, workflow=wf).pk)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        wait(lambda: Instance.objects.filter(pk__in=made, status="complete").count() == count, 300, "the trickle")
        wait(lambda: sum(totals()) - hits0 - misses0 >= count, 30, "heartbeats with the trickle's takes")
        hits, misses = totals()
        hits, misses = hits - hits0, misses - misses0
        return {"instances": count, "interval_s": interval, "hits": hits, "misses": misses,
                "hit_rate": round(hits / (hits + misses), 3) if hits + misses else None}

    # ---- sleeping instances ------------------------------------------------------------------------------
    def seed(self) -> dict:
        """Bytes per sleeping instance once its progress rows are compacted (engine.compaction: after
        ENGINE_PROGRESS_COMPACT_AFTER_SECONDS, an hour by default), which is what it costs for the
        rest of its sleep, and before (`first_hour`)."""
        self.say(f"seeding {self.sleeping} sleeping instances")
        wf = self.workflow(SLEEPER)
        self.sleeper = wf
        real = min(200, self.sleeping)
        made = []
        for start in range(0, real, 100):
            made += services.instance_create_batch(tenant=self.tenant, workflow=wf, items=[{}] * min(100, real - start))
        for inst in made:
            while runner.advance(inst.pk, worker="bench") == "due":
                pass
        template = made[0]
        assert Instance.objects.get(pk=template.pk).status == "waiting"
        first_hour = self.measure(template, real)
        self.drop_copies(made)
        window = timedelta(seconds=settings.ENGINE_PROGRESS_COMPACT_AFTER_SECONDS + 1)
        compaction.compact(now=clock.now() + window, budget_seconds=600)
        figures = self.measure(template, real)
        figures["first_hour"] = {k: first_hour[k] for k in ("total", "per_table", "rows_each")}
        return figures

    def measure(self, template: Instance, real: int) -> dict:
        if connection.vendor == "postgresql":
            # Free space left in the relations by earlier deletions would take the new rows without
            # growing them, and flatter the figure: start from compact relations.
            with connection.cursor() as cursor:
                for model in (Instance, StepRecord, ProgressEvent):
                    cursor.execute(f"VACUUM FULL {model._meta.db_table}")
        before = db_bytes()
        self.clone(template, self.sleeping - real)
        after = db_bytes()
        per_name = {name: round((size - before.get(name, 0)) / max(1, self.sleeping - real)) for name, size in after.items()}
        per_table: dict[str, int] = {}
        for name, size in per_name.items():
            per_table[table_of(name)] = per_table.get(table_of(name), 0) + size
        return {"instances": self.sleeping, "total": sum(per_name.values()), "per_table": per_table,
                "per_table_or_index": dict(sorted(per_name.items(), key=lambda kv: -kv[1])),
                "rows_each": {"instance": 1,
                              "step_records": StepRecord.objects.filter(instance_id=template.pk).count(),
                              "progress_events": ProgressEvent.objects.filter(instance_id=template.pk).count()}}

    def drop_copies(self, keep: list[Instance]) -> None:
        """Delete the copies (every instance of the sleeper workflow but the real ones)."""
        keep_ids = {i.pk for i in keep}
        while True:
            ids = [pk for pk in Instance.objects.filter(workflow=self.sleeper).values_list("pk", flat=True)[:4000]
                   if pk not in keep_ids][:2000]
            if not ids:
                return
            with transaction.atomic():
                ProgressEvent.objects.filter(instance_id__in=ids).delete()
                StepRecord.objects.filter(instance_id__in=ids).delete()
                Instance.objects.filter(pk__in=ids).delete()

    def clone(self, template: Instance, count: int) -> None:
        """Copies of a real sleeping instance's rows, with new ids, in batches."""
        def rows(model, **where) -> tuple[list[str], list[tuple]]:
            fields = [f for f in model._meta.concrete_fields if not f.primary_key or model is Instance]
            columns = [f.column for f in fields]
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {', '.join(columns)} FROM {model._meta.db_table} WHERE "
                               + " AND ".join(f"{k} = %s" for k in where), list(where.values()))
                return columns, cursor.fetchall()

        pk = Instance._meta.pk.get_db_prep_value(template.pk, connection)
        # Copies are created after every real instance, as later instances are: their times sort
        # after the real ones' (an index on a time fills its pages in order, as in production).
        template = Instance.objects.get(pk=template.pk)
        real = Instance.objects.filter(tenant=self.tenant)
        shift = {column: real.aggregate(at=Max(column))["at"] - getattr(template, column)
                 for column in ("created_at", "started_at", "due_at")}
        tables = {model: rows(model, **({"id": pk} if model is Instance else {"instance_id": pk}))
                  for model in (Instance, StepRecord, ProgressEvent)}
        for start in range(0, count, 2000):
            batch = min(2000, count - start)
            with transaction.atomic(), connection.cursor() as cursor:
                ids = [new_id() for _ in range(batch)]  # as the engine makes them: time-ordered
                for model, (columns, template_rows) in tables.items():
                    id_col = "id" if model is Instance else "instance_id"
                    values = []
                    for new in ids:
                        new_pk = Instance._meta.pk.get_db_prep_value(new, connection)
                        for row in template_rows:
                            row = dict(zip(columns, row))
                            row[id_col] = new_pk
                            if model is Instance:
                                if row["key"] is not None:
                                    row["key"] = new.hex
                                # Distinct times, as real instances have: PostgreSQL's B-trees store
                                # equal keys once (deduplication), which would flatter the figure.
                                for column in ("created_at", "started_at", "due_at"):
                                    if isinstance(row[column], datetime):
                                        row[column] += shift[column] + timedelta(microseconds=1 + start + len(values))
                            values.append(tuple(row[c] for c in columns))
                    cursor.executemany(f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) VALUES "
                                       f"({', '.join(['%s'] * len(columns))})", values)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE engine_instance")
        else:
            dispatch.analyze()

    # ---- waking -------------------------------------------------------------------------------------------
    def wake_drain(self) -> dict:
        """In each mode: W new one-step instances drained by 2 worker processes (the plain advance
        rate), then W sleeping instances made due at once (the wake), on the same workers."""
        out = {"embedded": self.drain("embedded")} if "embedded" in self.modes else {}
        if self.celery and "celery" in self.modes:
            try:
                out["celery"] = self.drain("celery")
            except Exception as e:  # keep the embedded figures
                out["celery"] = {"failed": f"{type(e).__name__}: {e}"}
        return out

    def drain(self, mode: str) -> dict:
        self.say(f"{mode}: draining {self.wake} new instances, then waking {self.wake} at once")
        wf = self.workflow(ONE_STEP)
        settings.ENGINE_DISPATCH = mode  # how the creations and the wake notify the workers
        try:
            for _ in range(self.wake // 100):
                services.instance_create_batch(tenant=self.tenant, workflow=wf, items=[{}] * 100)
            if mode == "embedded":
                supervisor = Supervisor(2, restart_delay=0)
                supervisor.start()
                stop = supervisor.stop
            else:
                procs = self.start_celery()
                stop = lambda: [(p.terminate(), p.wait()) for p in procs]  # noqa: E731
            try:
                return self.timed_drain(wf)
            finally:
                stop()
        finally:
            settings.ENGINE_DISPATCH = "embedded"

    def timed_drain(self, wf) -> dict:
        wait(lambda: not Instance.objects.filter(workflow=wf, status__in=["queued", "running"]).exists(),
             max(1200, self.wake), "the new instances to complete")
        starts = list(Instance.objects.filter(workflow=wf, started_at__isnull=False).values_list("started_at", flat=True))
        plain = len(starts) / max((max(starts) - min(starts)).total_seconds(), 1e-3)
        time.sleep(2)
        ids = list(Instance.objects.filter(workflow=self.sleeper, status="waiting").values_list("pk", flat=True)[:self.wake])
        # Timers that fire together a moment from now: the workers sleep until then (notify only
        # tells them their earliest timer moved; in Celery mode the pump sends the tokens when
        # they fire), as after any release.
        due = clock.now() + timedelta(seconds=2)
        with transaction.atomic():
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                Instance.objects.filter(pk__in=chunk).update(due_at=due)
                StepRecord.objects.filter(instance_id__in=chunk).update(wake_at=due)
            dispatch.notify(ids)
        wait(lambda: Instance.objects.filter(workflow=self.sleeper, status="complete").count() >= self.woken + len(ids),
             max(1200, self.wake), "the woken instances to complete")
        self.woken += len(ids)
        elapsed = (clock.now() - due).total_seconds()
        claimed = [StepRecord.objects.filter(instance_id__in=ids[n:n + 500], name="nap").values_list("finished_at", flat=True)
                   for n in range(0, len(ids), 500)]
        lags = [(c - due).total_seconds() for chunk in claimed for c in chunk if c is not None]
        return {"instances": len(ids), "worker_processes": 2,
                "wake_drain_per_s": round(len(lags) / max(lags), 1) if lags else None,
                "all_complete_after_s": round(elapsed, 2),
                "due_to_claim_lag_s": {"p50": pct(lags, 0.5), "p90": pct(lags, 0.9), "p99": pct(lags, 0.99),
                                       "max": round(max(lags), 3) if lags else None},
                "plain_advance_per_s": round(plain, 1),
                "note": "plain: the same workers draining as many new one-step instances (from their first start)"}

    def cleanup(self) -> None:
        self.say("cleaning up")
        while True:
            ids = list(Instance.objects.filter(tenant=self.tenant).values_list("pk", flat=True)[:2000])
            if not ids:
                break
            with transaction.atomic():
                ProgressEvent.objects.filter(instance_id__in=ids).delete()
                StepRecord.objects.filter(instance_id__in=ids).delete()  # attempts cascade
                Instance.objects.filter(pk__in=ids).delete()
        self.tenant.delete()


def run(*, sleeping: int, wake: int, window: float, out, modes: list[str] | None = None) -> dict:
    settings.ENGINE_DISPATCH = "embedded"  # the bench's own writes; Celery figures start their own processes
    return IdleBench(sleeping=sleeping, wake=wake, window=window, out=out, modes=modes).run()
