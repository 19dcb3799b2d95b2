"""Live progress over WebSockets: replay after an id then live, tenant-scoped, origin-checked."""
import asyncio
import json
import os
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from engine import services
from tenants.access import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)
PROGRAM = "export default async function run(e, step) { await step.do('a', () => 1); await step.sleep('nap', '1 minute'); return 2; }"


@pytest.fixture
def in_memory_layer(settings):
    """Refused connections never reach the channel layer's use, but a consumer (channels' own
    origin denier included) opens a channel on it; with channels_redis, cancelling that read at
    the end of asyncio.run once hung a run. These tests are about refusal, not the layer."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def connect(path, token=None, origin="http://127.0.0.1"):
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_all(ws, count, timeout=5):
    return [await ws.receive_json_from(timeout=timeout) for _ in range(count)]


def test_replays_then_streams_live_without_gap_or_duplicate(tenant, make_workflow, clock, drive):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()  # events 1..7 exist before anyone listens

    async def scenario():
        ws = connect(f"/ws/instances/{inst.pk}/?after=2", token)
        connected, _ = await ws.connect()
        assert connected
        replayed = await receive_all(ws, 5)
        assert [e["eventId"] for e in replayed] == [3, 4, 5, 6, 7]
        clock.advance(minutes=1)
        await sync_to_async(drive)()
        live = await receive_all(ws, 2)
        assert [(e["eventId"], e["type"]) for e in live] == [(8, "sleep_completed"), (9, "workflow_completed")]
        assert await ws.receive_nothing(timeout=0.6)  # nothing sent twice
        await ws.disconnect()

    asyncio.run(scenario())


def test_another_tenants_or_an_unknown_instance_is_refused_alike(tenant, other_tenant, make_workflow, in_memory_layer):
    """Refusals are accepted, then closed with the code (a close before accepting is an HTTP 403)."""
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    other = api_key_create(tenant=other_tenant, name="ws")[1]

    async def scenario():
        codes = []
        for path, token in [(f"/ws/instances/{inst.pk}/", other), ("/ws/instances/00000000-0000-0000-0000-000000000000/", other),
                            (f"/ws/workflows/{wf.pk}/", other), (f"/ws/instances/{inst.pk}/", None),
                            (f"/ws/instances/{inst.pk}/", "wfk_bad_key")]:
            ws = connect(path, token)
            connected, _ = await ws.connect()
            assert connected
            codes.append((await ws.receive_output(timeout=5))["code"])
        return codes

    assert asyncio.run(scenario()) == [4404, 4404, 4404, 4401, 4401]


def test_the_origin_is_checked_for_cookie_sessions_only(tenant, make_workflow, client, in_memory_layer):
    from django.contrib.auth.models import User

    from tenants.models import Membership

    user = User.objects.create_user("ana", password="pw")
    Membership.objects.create(user=user, tenant=tenant, role="viewer")
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    token = api_key_create(tenant=tenant, name="ws")[1]

    async def first(headers):
        ws = WebsocketCommunicator(application, f"/ws/instances/{inst.pk}/", headers=[(b"host", b"127.0.0.1"), *headers])
        assert (await ws.connect())[0]
        message = await ws.receive_output(timeout=5)
        await ws.disconnect()
        return message.get("code") if message["type"] == "websocket.close" else json.loads(message["text"])["type"]

    async def scenario():
        return [
            await first([(b"origin", b"https://evil.example"), (b"cookie", cookie)]),  # a foreign page using the cookie
            await first([(b"cookie", cookie)]),  # no Origin with a cookie: not a page of ours
            await first([(b"origin", b"http://127.0.0.1"), (b"cookie", cookie)]),
            await first([(b"authorization", f"Bearer {token}".encode())]),  # a program: no Origin needed
            await first([(b"origin", b"https://evil.example"), (b"authorization", f"Bearer {token}".encode())]),
        ]

    assert asyncio.run(scenario()) == [4403, 4403, "workflow_queued", "workflow_queued", "workflow_queued"]


def test_the_workflow_stream_shows_every_instance(tenant, make_workflow, clock, drive):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(PROGRAM)

    async def scenario():
        ws = connect(f"/ws/workflows/{wf.pk}/", token)
        connected, _ = await ws.connect()
        assert connected
        inst = await sync_to_async(services.instance_create)(tenant=tenant, workflow=wf, id="live-1")
        await sync_to_async(drive)()
        events = await receive_all(ws, 3)
        assert [(e["instance"], e["type"]) for e in events] == [
            (str(inst.pk), "workflow_queued"), (str(inst.pk), "workflow_started"), (str(inst.pk), "workflow_waiting")]
        await ws.disconnect()

    asyncio.run(scenario())


def test_a_browser_session_works_too(tenant, make_workflow, client):
    from django.contrib.auth.models import User

    from tenants.models import Membership

    user = User.objects.create_user("ana", password="pw")
    Membership.objects.create(user=user, tenant=tenant, role="viewer")
    client.force_login(user)
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    cookie = f"sessionid={client.cookies['sessionid'].value}"

    async def scenario():
        ws = WebsocketCommunicator(application, f"/ws/instances/{inst.pk}/",
                                   headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie.encode())])
        connected, _ = await ws.connect()
        assert connected
        first = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return first

    assert asyncio.run(scenario())["type"] == "workflow_queued"


def write_logs(inst, count: int, start: int = 0) -> None:
    """Append `count` log events to an instance, one transaction each (as workers commit)."""
    from django.db import transaction

    from engine import clock, progress

    for i in range(start, start + count):
        with transaction.atomic():
            progress.record(instance_id=inst.pk, tenant_id=inst.tenant_id, now=clock.now(),
                            items=[("log", None, None, {"level": "log", "message": f"line {i}"})])


def test_replay_then_live_has_no_gap_or_duplicate_under_concurrent_writes(tenant, make_workflow):
    """A writer commits events while the client connects and replays: every id arrives once, in order."""
    import threading

    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)  # event 1
    write_logs(inst, 300)  # events 2..301 exist before the client connects

    async def scenario():
        writer = threading.Thread(target=write_logs, args=(inst, 300, 300))  # 302..601 while it replays
        ws = connect(f"/ws/instances/{inst.pk}/?after=0", token)
        writer.start()
        connected, _ = await ws.connect()
        assert connected
        got = await receive_all(ws, 601, timeout=20)
        await asyncio.get_running_loop().run_in_executor(None, writer.join)
        assert await ws.receive_nothing(timeout=0.6)
        await ws.disconnect()
        return got

    got = asyncio.run(scenario())
    assert [e["eventId"] for e in got] == list(range(1, 602))
    assert [e["message"] for e in got[1:]] == [f"line {i}" for i in range(600)]


def test_a_client_resyncs_after_missing_hundreds_of_events(tenant, make_workflow):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)

    async def scenario():
        ws = connect(f"/ws/instances/{inst.pk}/", token)
        assert (await ws.connect())[0]
        first = await receive_all(ws, 1)
        await ws.disconnect()  # the socket drops...
        await sync_to_async(write_logs)(inst, 400)  # ...and 400 events happen meanwhile
        ws = connect(f"/ws/instances/{inst.pk}/?after={first[-1]['eventId']}", token)
        assert (await ws.connect())[0]
        rest = await receive_all(ws, 400, timeout=10)
        assert await ws.receive_nothing(timeout=0.6)
        await ws.disconnect()
        return first + rest

    assert [e["eventId"] for e in asyncio.run(scenario())] == list(range(1, 402))


def test_a_long_output_arrives_cut_with_where_the_whole_value_is(tenant, make_workflow, drive):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow("export default async function run(e, step) { return await step.do('big', () => 'x'.repeat(5000)); }")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()

    async def scenario():
        ws = connect(f"/ws/instances/{inst.pk}/", token)
        assert (await ws.connect())[0]
        events = []
        while not events or events[-1]["type"] != "workflow_completed":
            events.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return events

    done = next(e for e in asyncio.run(scenario()) if e["type"] == "step_completed")
    assert done["truncated"] is True and done["size"] == 5002 and len(done["output"]) < 5002
    assert done["outputUrl"] == f"/api/v1/instances/{inst.pk}"


@pytest.mark.processes
def test_events_from_a_worker_process_reach_a_client_of_daphne(tenant, make_workflow, settings):
    """Embedded mode for real: daphne serves the socket, a separate engine worker process writes the
    events; they meet only in the database (Redis pokes too in the distributed suite)."""
    import json as jsonlib
    import sys

    from websockets.sync.client import connect as ws_connect

    from tests.processes import start, start_daphne, stop

    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow("export default async function run(e, step) { await step.do('a', () => 1); await step.do('b', () => 2); return 3; }")
    server, port = start_daphne("live-daphne")
    worker = None
    try:
        inst = services.instance_create(tenant=tenant, workflow=wf)
        with ws_connect(f"ws://127.0.0.1:{port}/ws/instances/{inst.pk}/", origin="http://127.0.0.1",
                        additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
            assert jsonlib.loads(ws.recv(timeout=10))["type"] == "workflow_queued"
            worker = start([sys.executable, "manage.py", "engine_worker"], "live-worker")
            seen = []
            while not seen or seen[-1]["type"] != "workflow_completed":
                seen.append(jsonlib.loads(ws.recv(timeout=30)))
        seen = [e for e in seen if not e.get("ephemeral")]  # an attempt began or ended (uncommitted, no id)
        assert [e["eventId"] for e in seen] == list(range(2, 2 + len(seen)))  # in order, none missing or repeated
        assert seen[-1]["output"] == "3"
    finally:
        stop(server)
        if worker:
            stop(worker)


@pytest.mark.processes
@pytest.mark.distributed
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)")
def test_events_from_a_celery_worker_reach_a_client_of_daphne(tenant, make_workflow, settings):
    """Distributed mode for real: a Celery worker (over Redis) advances the instance, the pump wakes
    its sleep, daphne serves the socket; events come from PostgreSQL, Redis pokes make them prompt."""
    import json as jsonlib
    import sys
    import time

    from websockets.sync.client import connect as ws_connect

    from tests.processes import start, start_celery_worker, start_daphne, stop

    settings.ENGINE_DISPATCH = "celery"
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow("export default async function run(e, step) { const a = await step.do('a', () => 1);"
                       " await step.sleep('nap', '1 second'); console.log('woke'); return await step.do('b', () => a + 2); }")
    server, port = start_daphne("live-celery-daphne")
    worker = pump = None
    try:
        inst = services.instance_create(tenant=tenant, workflow=wf)
        with ws_connect(f"ws://127.0.0.1:{port}/ws/instances/{inst.pk}/", origin="http://127.0.0.1",
                        additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
            assert jsonlib.loads(ws.recv(timeout=10))["type"] == "workflow_queued"
            # The instance was dispatched before any worker existed: the message waits in Redis.
            worker = start_celery_worker("live-celery-worker", concurrency=1)
            pump = start([sys.executable, "manage.py", "engine_pump", "--interval", "0.5"], "live-celery-pump")
            seen, started = [], time.monotonic()
            while not seen or seen[-1]["type"] != "workflow_completed":
                seen.append(jsonlib.loads(ws.recv(timeout=60)))
        # Ephemeral events travel only in notifications: these came from the worker through Redis
        # to daphne's process channel (engine.live.Hub), not from a database read.
        assert {(e["type"], e["step"]) for e in seen if e.get("ephemeral")} >= {("attempt_running", "a"), ("attempt_running", "b")}
        seen = [e for e in seen if not e.get("ephemeral")]  # an attempt began or ended (uncommitted, no id)
        assert [e["eventId"] for e in seen] == list(range(2, 2 + len(seen)))  # in order, none missing or repeated
        types = [e["type"] for e in seen]
        assert {"sleep_started", "sleep_completed", "log", "workflow_completed"} <= set(types)
        assert seen[-1]["output"] == "3"
        print(f"celery: {len(seen)} events in {time.monotonic() - started:.2f} s")
    finally:
        for proc in (server, worker, pump):
            if proc:
                stop(proc)


def test_a_step_error_carries_the_programs_stack_frames(tenant, make_workflow, drive):
    """The live view shows where a step threw: the frames of the tenant's program, none of the runtime's."""
    from engine import selectors

    wf = make_workflow("export default async function run(e, step) {\n"
                       "  function check(x) { throw new Error('bad ' + x); }\n"
                       "  return await step.do('a', { retries: { limit: 0 } }, () => check(1));\n}")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    errored = next(e for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "step_errored")
    assert errored["error"]["message"] == "bad 1"
    # Translated by the host into the program's own line and column (engine.sourcemap).
    assert errored["error"]["stack"].splitlines()[0].strip() == "at check (line 2, column 48)"
    assert errored["error"]["frames"][0] == {"function": "check", "line": 2, "column": 48}
    assert "eval_script" not in errored["error"]["stack"]
    inst.refresh_from_db()
    assert inst.error == {"name": "Error", "message": "bad 1"}  # the instance's error is unchanged


@pytest.mark.parametrize("bursts", [False, True])
def test_step_times_are_the_hosts_and_in_order(tenant, make_workflow, drive, monkeypatch, bursts):
    """Hundreds of tiny steps and a slower one: every event's time is the host's and never before
    the one before it. With bursts (the host tells the sandbox to skip the marks of steps in a run
    of very fast ones), the slow step may fall in a window: then only the order is guaranteed."""
    from engine import live
    from engine.models import ProgressEvent, StepRecord

    monkeypatch.setattr(live.AttemptTimes, "FAST_SECONDS", 10.0 if bursts else 0.0)
    wf = make_workflow("export default async function run(e, step) {\n"
                       "  for (let i = 0; i < 300; i++) await step.do(`s${i}`, () => i);\n"
                       "  await step.do('slow', () => { let x = 0; for (let i = 0; i < 300000; i++) x += i % 7; return x; });\n"
                       "  return await step.do('last', () => 1);\n}")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    from engine import progress

    times = [datetime.fromisoformat(e["timestamp"]) for e in progress.events_of(ProgressEvent.objects.filter(instance=inst).order_by("event_id"))]
    assert times == sorted(times)
    rows = {r.name: r for r in StepRecord.objects.filter(instance=inst)}
    assert all(r.finished_at >= r.started_at for r in rows.values())
    assert rows["slow"].started_at >= rows["s299"].finished_at and rows["last"].started_at >= rows["slow"].finished_at
    if not bursts:
        assert (rows["slow"].finished_at - rows["slow"].started_at).total_seconds() > 0.01  # its own time, not the batch's
