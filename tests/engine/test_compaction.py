"""Compaction of the progress log (engine.compaction): old rows merge without losing an event, the
workflow stream says `resync` to a cursor from before the compacted prefix, and within the window
it still resumes exactly."""
import asyncio
import json
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.db import connections as db_connections

from config.asgi import application
from engine import compaction, progress, services
from engine.models import Instance, ProgressEvent
from tenants.access import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)
LOOP = """export default async function run(e, step) {
  for (let i = 0; i < 3; i++) { await step.do("a", () => ({ i })); await step.sleep("s", "1 minute"); }
  await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
  await step.sleep("nap", "30 days");
  return 1;
}"""
WINDOW = timedelta(hours=1, seconds=1)


def rows_of(inst):
    return list(ProgressEvent.objects.filter(instance_id=inst.pk).order_by("event_id").values())


def run_until_waiting(clock, drive, inst, minutes=1):
    drive()
    while Instance.objects.get(pk=inst.pk).wait_types is None and Instance.objects.get(pk=inst.pk).status != "complete":
        clock.advance(minutes=minutes)
        drive()


def test_old_rows_merge_into_one_with_every_event_as_it_was(tenant, make_workflow, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(LOOP))
    run_until_waiting(clock, drive, inst)
    before = progress.events_of(rows_of(inst))
    assert len(rows_of(inst)) >= 5 and all(r["lifecycle"] for r in rows_of(inst)[:2])
    clock.advance(hours=2)
    assert compaction.compact(now=clock.now()) > 0
    rows = rows_of(inst)
    assert len(rows) == 1 and not rows[0]["lifecycle"] and rows[0]["txid"] == 0
    # Every event: id, type, step, attempt, data (the sleeps' `until` included) and time to the µs.
    assert progress.events_of(rows) == before
    assert [e["eventId"] for e in before] == list(range(1, len(before) + 1))
    assert compaction.horizon() != (0, 0)


def test_rows_within_the_window_are_left_alone_and_later_rows_join_the_merged_one(tenant, make_workflow, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(LOOP))
    run_until_waiting(clock, drive, inst)
    clock.advance(hours=2)
    services.event_send(tenant=tenant, instance_id=inst.pk, type="go", payload={"n": 1})
    drive()  # the wait completes, the long sleep begins: new rows, inside the window
    before = progress.events_of(rows_of(inst))
    new = [r for r in rows_of(inst) if r["created_at"] > clock.now() - WINDOW]
    assert new and len(new) < len(rows_of(inst))
    compaction.compact(now=clock.now())
    # The old rows merged into one; the new ones are as they were, still in the workflow stream.
    assert rows_of(inst)[1:] == new and not rows_of(inst)[0]["lifecycle"]
    assert progress.events_of(rows_of(inst)) == before
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    assert len(rows_of(inst)) == 1 and progress.events_of(rows_of(inst)) == before
    assert ProgressEvent.objects.filter(instance_id=inst.pk, lifecycle=True).count() == 0


def test_a_merged_row_holds_at_most_a_pack_of_events(tenant, make_workflow, clock, drive):
    program = """export default async function run(e, step) {
      for (let i = 0; i < 40; i++) await step.sleep("s" + i, "1 second");
      return 1; }"""
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(program))
    run_until_waiting(clock, drive, inst)
    before = progress.events_of(rows_of(inst))
    assert len(before) > 2 * progress.PACK
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    rows = rows_of(inst)
    counts = [r["count"] for r in rows]
    # Whole rows merge (a row is never split): each merged row is as full as the next row allows.
    assert all(0 < c <= progress.PACK for c in counts) and sum(counts) == len(before)
    assert all(a + b > progress.PACK for a, b in zip(counts, counts[1:])) and len(rows) < len(before) / 10
    assert progress.events_of(rows) == before
    assert progress.events_of(rows, after=progress.PACK + 3) == before[progress.PACK + 3:]


def connect(path, token):
    return WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
                                                             (b"authorization", f"Bearer {token}".encode())])


def stream(path, token, count):
    """The first `count` messages a socket gets, and nothing more (in-process client)."""
    async def read():
        ws = connect(path, token)
        assert (await ws.connect())[0]
        got = [await ws.receive_json_from(timeout=10) for _ in range(count)]
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return got

    return asyncio.run(read())


def test_the_workflow_stream_resyncs_a_cursor_from_before_the_compacted_prefix(tenant, make_workflow, clock, drive):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(LOOP)
    first = services.instance_create(tenant=tenant, workflow=wf, id="first")
    drive()

    old = stream(f"/ws/workflows/{wf.pk}/?after=0", token, 3)
    assert [e["type"] for e in old] == ["workflow_queued", "workflow_started", "workflow_waiting"]
    cursor = old[0]["cursor"]
    # Within the window the cursor resumes exactly.
    assert stream(f"/ws/workflows/{wf.pk}/?after={cursor}", token, 2) == old[1:]
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    second = services.instance_create(tenant=tenant, workflow=wf, id="second")
    got = stream(f"/ws/workflows/{wf.pk}/?after={cursor}", token, 2)
    assert got[0]["type"] == "resync" and got[0]["cursor"] != cursor
    assert (got[1]["instance"], got[1]["type"]) == (str(second.pk), "workflow_queued")
    # The resync's cursor is a good one: resuming from it gives what followed it, no resync.
    assert stream(f"/ws/workflows/{wf.pk}/?after={got[0]['cursor']}", token, 1) == got[1:]
    # The instance's own stream still has every event.
    ws_events = stream(f"/ws/instances/{first.pk}/?after=0", token, len(progress.events_of(rows_of(first))))
    assert [e["eventId"] for e in ws_events] == list(range(1, len(ws_events) + 1))


def test_a_live_reader_that_had_read_the_compacted_rows_goes_on_without_resync(tenant, make_workflow, clock, drive):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(LOOP)

    async def scenario():
        ws = connect(f"/ws/workflows/{wf.pk}/?after=0", token)
        assert (await ws.connect())[0]
        inst = await sync_to_async(services.instance_create)(tenant=tenant, workflow=wf)
        assert (await ws.receive_json_from(timeout=10))["type"] == "workflow_queued"
        # The reader stalls (nothing read) while the instance runs and its rows age and are compacted.
        clock.advance(hours=2)
        await sync_to_async(compaction.compact)(now=clock.now())
        await sync_to_async(drive)()
        got = [await ws.receive_json_from(timeout=10) for _ in range(2)]
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return inst, got

    inst, got = asyncio.run(scenario())
    # The compacted prefix ends at the row the reader had read: nothing it had not seen was
    # compacted, so no resync; what follows comes as usual.
    assert [(e["instance"], e["type"]) for e in got] == [(str(inst.pk), "workflow_started"),
                                                          (str(inst.pk), "workflow_waiting")]


def test_the_hook_runs_at_most_every_interval(settings, monkeypatch, clock):
    calls = []
    monkeypatch.setattr(compaction, "compact", lambda now: calls.append(now))
    monkeypatch.setattr(compaction, "_last_run", None)
    settings.ENGINE_COMPACT_INTERVAL_SECONDS = 3600
    compaction.compact_hook(now=clock.now())
    compaction.compact_hook(now=clock.now())
    assert len(calls) == 1
    assert "engine.compaction.compact_hook" in settings.ENGINE_PUMP_HOOKS


def test_events_survive_compaction_as_the_history_api_shows_them(tenant, make_workflow, clock, drive, client):
    token = api_key_create(tenant=tenant, name="api")[1]
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(LOOP), id="hist")
    run_until_waiting(clock, drive, inst)
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/v1/instances/{inst.pk}/progress"
    before = client.get(url, headers=headers)
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    after = client.get(url, headers=headers)
    assert before.status_code == after.status_code == 200
    assert json.loads(after.content) == json.loads(before.content)


def test_a_cursor_inside_the_last_compacted_row_is_resynced(tenant, make_workflow, clock, drive):
    """The first advance's row holds workflow_started and workflow_waiting: a reader that got only
    the first, then lost its socket while that row was compacted, must not resume silently."""
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(LOOP)
    services.instance_create(tenant=tenant, workflow=wf)
    drive()

    events = stream(f"/ws/workflows/{wf.pk}/?after=0", token, 3)
    started = next(e for e in events if e["type"] == "workflow_started")
    assert started["cursor"].split(".")[:2] == events[-1]["cursor"].split(".")[:2]  # one row
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    got = stream(f"/ws/workflows/{wf.pk}/?after={started['cursor']}", token, 1)
    assert got[0]["type"] == "resync"
    # The last event's cursor is the horizon itself: nothing was missed, nothing to say.
    assert stream(f"/ws/workflows/{wf.pk}/?after={events[-1]['cursor']}", token, 0) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL")
def test_an_instance_retention_holds_is_taken_out_of_the_stream_without_waiting(tenant, make_workflow, clock, drive):
    held = services.instance_create(tenant=tenant, workflow=make_workflow(LOOP))
    other = services.instance_create(tenant=tenant, workflow=make_workflow(LOOP, slug="other"))
    run_until_waiting(clock, drive, held)
    run_until_waiting(clock, drive, other)
    rows_before = rows_of(held)
    locked, release = threading.Event(), threading.Event()

    def retention_like():
        try:
            with transaction.atomic():
                list(Instance.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(30)
        finally:
            db_connections.close_all()

    thread = threading.Thread(target=retention_like)
    thread.start()
    try:
        assert locked.wait(30)
        clock.advance(hours=2)
        compaction.compact(now=clock.now())  # returns: it never waits for the held row
        assert len(rows_of(other)) == 1
        held_rows = rows_of(held)
        assert len(held_rows) == len(rows_before) and not any(r["lifecycle"] for r in held_rows)
    finally:
        release.set()
        thread.join()
    assert progress.events_of(rows_of(held)) == progress.events_of(rows_before)
    clock.advance(hours=2)
    compaction.compact(now=clock.now())
    # Out of the stream already, its rows are not looked at again by the prefix walk: they stay
    # as they are (correct, just not merged) until the instance's next lifecycle row is compacted.
    assert progress.events_of(rows_of(held)) == progress.events_of(rows_before)
