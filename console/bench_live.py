"""`manage.py bench live`: live progress through a real daphne, measured from a WebSocket client.

Figures (JSON): the mode (embedded: SQLite and datagram notifications; distributed: REDIS_URL, with
PostgreSQL when DATABASE_URL says so); commit-to-client lag p50/p99 of events committed by this
process one transaction at a time (the path an engine worker's commit takes: the database, then a
notification to daphne, then the consumer's read); the lag of a step's ephemeral `attempt_running`
from an engine worker process; replay events/s of a long history; and the lag to each of 100
subscribers of one instance. daphne runs as a child process on a free port; everything it made is
deleted at the end.
"""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 1) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(port: int) -> subprocess.Popen:
    log = open(settings.VAR_DIR / "bench-live-daphne.log", "ab")  # what daphne said, should a figure fail
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-p", str(port), "config.asgi:application"], cwd=ROOT,
                            stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("daphne did not start")


def write(instance, count: int, interval: float, committed: dict[int, float]) -> None:
    """Commit `count` log events one transaction each, noting when each commit returned."""
    from engine import clock, progress

    for n in range(count):
        with transaction.atomic():
            last = progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, now=clock.now(),
                                   items=[("log", None, None, {"message": f"bench {n}"})])
        committed[last] = time.time()
        time.sleep(interval)


async def receive(url: str, headers: dict, count: int, received: dict[int, float], ready: asyncio.Event | None = None) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers=headers, max_queue=None, open_timeout=30) as ws:
        if ready:
            ready.set()
        got = 0
        while got < count:
            event = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if event.get("ephemeral"):
                continue
            received[event["eventId"]] = time.time()
            got += 1


def lag(url: str, headers: dict, instance, *, count: int, interval: float, subscribers: int = 1) -> dict:
    committed: dict[int, float] = {}
    received = [dict() for _ in range(subscribers)]
    base = instance.last_event_id

    async def main():
        readies = [asyncio.Event() for _ in range(subscribers)]
        tasks = [asyncio.ensure_future(receive(f"{url}?after={base}", headers, count, received[k], readies[k]))
                 for k in range(subscribers)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        await asyncio.sleep(0.3)  # every consumer has read its (empty) replay
        writer = threading.Thread(target=write, args=(instance, count, interval, committed))
        writer.start()
        await asyncio.gather(*tasks)
        writer.join()

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    lags = [1000 * (got[i] - committed[i]) for got in received for i in committed if i in got]
    return {"events": count, "subscribers": subscribers, "deliveries": len(lags),
            "lag_ms_p50": pct(lags, 0.5), "lag_ms_p99": pct(lags, 0.99), "lag_ms_max": pct(lags, 1.0),
            "seconds": round(elapsed, 2)}


def replay(url: str, headers: dict, instance, count: int) -> dict:
    from engine import clock, progress

    for start in range(0, count, 5000):
        with transaction.atomic():
            progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, now=clock.now(),
                            items=[("log", None, None, {"message": f"history {n}"}) for n in range(start, min(count, start + 5000))])
    total = instance.__class__.objects.get(pk=instance.pk).last_event_id
    received: dict[int, float] = {}
    started = time.monotonic()
    asyncio.run(receive(f"{url}?after=0", headers, total, received))
    elapsed = time.monotonic() - started
    return {"events": total, "seconds": round(elapsed, 2), "events_per_s": round(total / elapsed)}


STEPS = """export default async function run(e, step) {
  for (let i = 0; i < 40; i++) await step.do(`s${i}`, () => { let x = 0; for (let k = 0; k < 100000; k++) x += k % 7; return x; });
}"""


def run(*, events: int = 300, history: int = 30_000, subscribers: int = 100, out=sys.stderr) -> dict:
    from builder.services import version_create_from_code, workflow_create
    from engine import services
    from engine.models import Instance
    from tenants.access import api_key_create
    from tenants.services import tenant_create

    settings.ENGINE_DISPATCH = "embedded"
    tenant = tenant_create(slug=f"bench-{uuid.uuid4().hex[:8]}")
    port = free_port()
    daphne = start_daphne(port)
    try:
        token = api_key_create(tenant=tenant, name="bench")[1]
        headers = {"Authorization": f"Bearer {token}"}
        wf = workflow_create(tenant=tenant, slug="live")
        version_create_from_code(workflow=wf, program="export default async function run(e, step) { await step.sleep('nap', '1 day'); }")
        wf.refresh_from_db()
        url = lambda inst: f"ws://127.0.0.1:{port}/ws/instances/{inst.pk}/"  # noqa: E731
        mode = "distributed" if settings.REDIS_URL else "embedded"
        figures = {"mode": mode, "database": connection.vendor, "cpus": os.cpu_count(),
                   "load_average": [round(x, 2) for x in os.getloadavg()]}
        print("lag...", file=out)
        inst = services.instance_create(tenant=tenant, workflow=wf)
        figures["commit_to_client"] = lag(url(inst), headers, inst, count=events, interval=0.02)
        print("fan-out...", file=out)
        inst = services.instance_create(tenant=tenant, workflow=wf)
        figures["fan_out"] = lag(url(inst), headers, inst, count=max(20, events // 3), interval=0.05, subscribers=subscribers)
        print("replay...", file=out)
        inst = services.instance_create(tenant=tenant, workflow=wf)
        figures["replay"] = replay(url(inst), headers, inst, history)
        print("steps...", file=out)
        steps = workflow_create(tenant=tenant, slug="steps")
        version_create_from_code(workflow=steps, program=STEPS)
        steps.refresh_from_db()
        figures["step_events"] = step_lag(url(services.instance_create(tenant=tenant, workflow=steps)), headers)
        return figures
    finally:
        daphne.terminate()
        daphne.wait(10)
        Instance.objects.filter(tenant=tenant).delete()
        tenant.delete()


def step_lag(url: str, headers: dict) -> dict:
    """An engine worker process runs 40 pure steps of ~50 ms: the lag of each attempt's ephemeral
    start and end (stamped with the host's time) to this client, and of the durable step ends."""
    env = dict(os.environ, ENGINE_DISPATCH="embedded", PYTHONUNBUFFERED="1")
    seen: list[tuple[float, dict]] = []

    async def main():
        from websockets.asyncio.client import connect

        async with connect(f"{url}?after=0", additional_headers=headers, max_queue=None, open_timeout=30) as ws:
            worker = subprocess.Popen([sys.executable, "manage.py", "engine_worker"], cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    seen.append((time.time(), event))
                    if event["type"] == "workflow_completed":
                        break
            finally:
                worker.terminate()
                worker.wait(10)

    asyncio.run(main())
    at = lambda e: datetime.fromisoformat(e["timestamp"]).timestamp()  # noqa: E731
    ephemeral = [1000 * (t - at(e)) for t, e in seen if e.get("ephemeral")]
    durable_end = [1000 * (t - at(e)) for t, e in seen if e["type"] == "step_completed"]
    return {"steps": 40, "ephemeral_events": len(ephemeral),
            "attempt_event_lag_ms_p50": pct(ephemeral, 0.5), "attempt_event_lag_ms_p99": pct(ephemeral, 0.99),
            "step_end_to_durable_event_ms_p50": pct(durable_end, 0.5), "step_end_to_durable_event_ms_p99": pct(durable_end, 0.99)}
