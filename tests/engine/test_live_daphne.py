"""Live progress through a real daphne process and a real WebSocket client (`websockets`).

daphne runs on the test database (as in the embedded deployment; with REDIS_URL, the distributed
suite's channels_redis); events are written by this process or by a separate engine worker process,
so they reach daphne only through the database and the notifications of engine.live.
"""
import json
import random
import threading
import time
from datetime import datetime

import pytest
from django.db import connection, transaction
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from engine import clock, progress, services
from engine.models import Instance, StepRecord
from tenants.access import api_key_create
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
SLEEPY = "export default async function run(e, step) { await step.sleep('nap', '1 day'); }"


@pytest.fixture(scope="module")
def daphne(django_db_setup, django_db_blocker):
    proc, port = start_daphne("live-daphne-tests")  # binds a free port itself and reads it back (no race)
    yield f"ws://127.0.0.1:{port}"
    stop(proc)


def opened(url: str, token: str | None = None, **options):
    """A client that, like a browser, can close while events are still coming: its incoming queue
    is unbounded (websockets' default of 16 messages stops reading, so the server's close frame
    waits behind the unread events and every close took the 10 s close timeout)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return connect(url, additional_headers={**headers, **options.pop("headers", {})}, open_timeout=20,
                   max_queue=None, **options)


def outcome(url: str, token: str | None = None, **options):
    """The close code a refused socket gets, or "open" with the first event's type."""
    with opened(url, token, **options) as ws:
        try:
            return "open", json.loads(ws.recv(timeout=20))["type"]
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def recv_json(ws, timeout: float = 30) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def test_every_refusal_reaches_a_real_client_with_its_code(daphne, tenant, other_tenant, make_workflow, client):
    from django.contrib.auth.models import User

    from tenants.models import Membership

    wf = make_workflow(SLEEPY)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    mine, theirs = api_key_create(tenant=tenant, name="ws")[1], api_key_create(tenant=other_tenant, name="ws")[1]
    ana = User.objects.create_user("ana", password="pw")
    Membership.objects.create(user=ana, tenant=tenant, role="viewer")
    client.force_login(ana)
    cookie = {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}
    instance_url, workflow_url = f"{daphne}/ws/instances/{inst.pk}/", f"{daphne}/ws/workflows/{wf.pk}/"

    assert outcome(f"{daphne}/ws/instances/00000000-0000-0000-0000-000000000000/", mine) == 4404  # unknown
    assert outcome(instance_url, theirs) == 4404  # another tenant's: the same answer
    assert outcome(f"{daphne}/ws/instances/not-a-uuid/", mine) == 4404
    assert outcome(workflow_url, theirs) == 4404
    assert outcome(f"{daphne}/ws/workflows/999999/", mine) == 4404
    assert outcome(instance_url) == 4401  # no credentials
    assert outcome(instance_url, "wfk_bad_token") == 4401
    assert outcome(instance_url, headers=cookie, origin="https://evil.example") == 4403  # a foreign page with the cookie
    assert outcome(instance_url, headers=cookie) == 4403  # a cookie without an Origin: not one of our pages
    assert outcome(f"{instance_url}?tenant=globex", headers=cookie, origin="http://127.0.0.1") == 4403  # not her tenant
    # Accepted: the session from our own origin, and an API key with no Origin at all (websockets sends none).
    assert outcome(instance_url, headers=cookie, origin="http://127.0.0.1") == ("open", "workflow_queued")
    assert outcome(instance_url, mine) == ("open", "workflow_queued")
    with opened(workflow_url, mine, origin="https://anywhere.example") as ws:  # any Origin with a key
        services.instance_create(tenant=tenant, workflow=wf, id="second")
        assert recv_json(ws)["type"] == "workflow_queued"


def write_workflow_events(instances: list, per_instance: int, seed: int) -> None:
    """`per_instance` workflow_* events (and log lines the workflow stream must skip) for each
    instance, in transactions of 1-10 events, instances interleaved at random."""
    rng = random.Random(seed)
    left = {i.pk: per_instance for i in instances}
    tenant_id = instances[0].tenant_id
    try:
        while left:
            pk = rng.choice(list(left))
            n = min(left[pk], rng.randint(1, 10))
            left[pk] -= n
            if not left[pk]:
                del left[pk]
            items = [("workflow_waiting", None, None, {"n": k}) for k in range(n)] + [("log", None, None, {"message": "x"})]
            with transaction.atomic():
                progress.record(instance_id=pk, tenant_id=tenant_id, now=clock.now(), items=items)
    finally:
        connection.close()


def test_a_5000_event_workflow_stream_arrives_whole_in_order(daphne, tenant, make_workflow):
    """The stream that stalled at its first 500 rows: 5,000 workflow events from two concurrent
    writers, then a new instance, all reach a subscriber exactly once and in each instance's order."""
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(SLEEPY)
    with opened(f"{daphne}/ws/workflows/{wf.pk}/", token) as ws:
        instances = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{} for _ in range(50)])  # 50 queued
        writers = [threading.Thread(target=write_workflow_events, args=(instances[k::2], 99, k)) for k in range(2)]
        for w in writers:
            w.start()
        got, started = [], time.monotonic()
        while len(got) < 5000:
            got.append(recv_json(ws))
        elapsed = time.monotonic() - started
        for w in writers:
            w.join()
        late = services.instance_create(tenant=tenant, workflow=wf)  # after 5,000 events the stream still moves
        tail = recv_json(ws)
    assert (tail["instance"], tail["type"]) == (str(late.pk), "workflow_queued")
    by_instance: dict[str, list[int]] = {}
    for e in got:
        assert e["type"].startswith("workflow_")
        by_instance.setdefault(e["instance"], []).append(e["eventId"])
    assert len(by_instance) == 50
    for ids in by_instance.values():
        assert len(ids) == 100 and ids == sorted(ids) and len(set(ids)) == 100  # queued + 99, once each, in order
    print(f"5,000 workflow events in {elapsed:.2f} s")


def test_the_workflow_stream_resumes_exactly_from_any_cursor(daphne, tenant, make_workflow):
    """Each workflow event carries its cursor: a subscriber that drops at random points while two
    writers run, and comes back with `?after=<last cursor>`, gets every event once, in each
    instance's order; later, `after=0` replays the whole history and any cursor its exact rest."""
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(SLEEPY)
    url = f"{daphne}/ws/workflows/{wf.pk}/"
    rng = random.Random(5)
    with opened(url, token) as ws:
        instances = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{} for _ in range(20)])
        got = [recv_json(ws) for _ in range(rng.randint(1, 20))]
    writers = [threading.Thread(target=write_workflow_events, args=(instances[k::2], 59, k)) for k in range(2)]
    for w in writers:
        w.start()
    try:
        while len(got) < 20 * 60:  # reconnect at random points while the writers run
            with opened(f"{url}?after={got[-1]['cursor']}", token) as ws:
                for _ in range(min(rng.randint(1, 200), 20 * 60 - len(got))):
                    got.append(recv_json(ws))
    finally:
        for w in writers:
            w.join()
    by_instance: dict[str, list[int]] = {}
    for e in got:
        by_instance.setdefault(e["instance"], []).append(e["eventId"])
    assert len(by_instance) == 20
    for ids in by_instance.values():  # queued + 59 workflow events each, once, in order
        assert len(ids) == 60 and ids == sorted(ids) and len(set(ids)) == 60

    with opened(f"{url}?after=0", token) as ws:  # the whole history, in the stream's order
        history = [recv_json(ws) for _ in range(20 * 60)]
    assert sorted((e["instance"], e["eventId"]) for e in history) == sorted((e["instance"], e["eventId"]) for e in got)
    lates: list[str] = []
    for k in [0, len(history) - 1, *rng.sample(range(1, len(history) - 1), 8)]:
        with opened(f"{url}?after={history[k]['cursor']}", token) as ws:
            rest = [recv_json(ws) for _ in range(len(history) - k - 1)]
            assert rest == history[k + 1:], f"after the {k}th event"
            assert [recv_json(ws)["instance"] for _ in lates] == lates  # those created since, in order
            lates.append(str(services.instance_create(tenant=tenant, workflow=wf).pk))  # then live
            assert recv_json(ws)["instance"] == lates[-1]
    with opened(f"{url}?after=not-a-cursor", token) as ws:  # not a cursor: from now, like no cursor
        fresh = services.instance_create(tenant=tenant, workflow=wf)
        assert recv_json(ws)["instance"] == str(fresh.pk)


def test_replay_from_random_cursors_is_exact(daphne, tenant, make_workflow):
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(SLEEPY)
    inst = services.instance_create(tenant=tenant, workflow=wf)  # event 1
    with transaction.atomic():  # events 2..3000 in one go
        progress.record(instance_id=inst.pk, tenant_id=tenant.pk, now=clock.now(),
                        items=[("log", None, None, {"message": f"line {n}"}) for n in range(2, 3001)])
    rng = random.Random(17)
    for after in [0, 2999, 3000, 499, 500, 501, *rng.sample(range(1, 3000), 6)]:
        last = Instance.objects.get(pk=inst.pk).last_event_id
        with opened(f"{daphne}/ws/instances/{inst.pk}/?after={after}", token) as ws:
            got = [recv_json(ws)["eventId"] for _ in range(last - after)]
            assert got == list(range(after + 1, last + 1)), f"after={after}"
            # One more event, written now: the next thing received (nothing was sent twice or held back).
            with transaction.atomic():
                progress.record(instance_id=inst.pk, tenant_id=tenant.pk, now=clock.now(),
                                items=[("log", None, None, {"message": f"after {after}"})])
            nxt = recv_json(ws)
            assert (nxt["eventId"], nxt["message"]) == (last + 1, f"after {after}")


SLOW = """export default async function run(e, step) {
  await step.do('quick', () => 1);
  const n = await step.do('slow', () => { let x = 0; for (let i = 0; i < 10000000; i++) x += i % 7; return x; });
  await step.do('after', () => 2);
  return n;
}"""


def test_a_long_pure_step_is_shown_running_at_once_and_gets_its_real_duration(daphne, tenant, make_workflow):
    """Steps without host calls commit in one batch at the end; the host still sees each attempt
    begin and end, shows it at once (ephemeral, unconfirmed), and the committed rows carry its times."""
    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(SLOW)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    worker = None
    with opened(f"{daphne}/ws/instances/{inst.pk}/", token) as ws:
        assert recv_json(ws)["type"] == "workflow_queued"
        worker = start_engine_worker("live-daphne-slow-worker", ENGINE_DISPATCH="embedded")
        try:
            seen = []  # (received at, event)
            while not seen or seen[-1][1]["type"] != "workflow_completed":
                event = recv_json(ws, timeout=60)
                seen.append((time.time(), event))
        finally:
            stop(worker)

    def first(type_, step, ephemeral=False):
        return next((at, e) for at, e in seen if e["type"] == type_ and e.get("step") == step and bool(e.get("ephemeral")) == ephemeral)

    at = lambda e: datetime.fromisoformat(e["timestamp"]).timestamp()  # noqa: E731
    running_received, running = first("attempt_running", "slow", ephemeral=True)
    ended_received, ended = first("attempt_ended", "slow", ephemeral=True)
    _, started = first("step_started", "slow")
    _, completed = first("step_completed", "slow")
    # Shown while it ran: the client had "running" before the step ended, and long before its commit.
    assert running_received < at(ended)
    assert "eventId" not in running and running["attempt"] == 1
    # The committed events carry the host's times, not the batch's: the real duration.
    assert started["timestamp"] == running["timestamp"] and completed["timestamp"] == ended["timestamp"]
    took = at(completed) - at(started)
    assert took > 0.2  # a real duration, not the batch's one timestamp (0 ms)
    assert at(first("step_completed", "quick")[1]) <= at(started) <= at(completed) <= at(first("step_started", "after")[1])
    row = StepRecord.objects.get(instance_id=inst.pk, name="slow")
    assert abs((row.finished_at - row.started_at).total_seconds() - took) < 0.002
    assert row.attempt_rows.get().started_at == row.started_at
    durable_received = first("step_completed", "slow")[0]
    print(f"slow step: {took:.2f} s; 'running' shown {1000 * (running_received - at(running)):.1f} ms after it began, "
          f"'ended' {1000 * (ended_received - at(ended)):.1f} ms after it ended; committed {durable_received - at(ended):.2f} s after")


def test_a_cursor_from_before_compaction_gets_resync_from_a_real_daphne(daphne, tenant, make_workflow):
    """After compaction (engine.compaction), an old cursor is told `resync` with a cursor to go on
    from, through the real server and client; events after it still come, once."""
    from datetime import timedelta

    from engine import compaction

    token = api_key_create(tenant=tenant, name="ws")[1]
    wf = make_workflow(SLEEPY)
    url = f"{daphne}/ws/workflows/{wf.pk}/"
    services.instance_create(tenant=tenant, workflow=wf, id="old")
    services.instance_create(tenant=tenant, workflow=wf, id="unread")
    with opened(f"{url}?after=0", token) as ws:
        cursor = recv_json(ws)["cursor"]  # workflow_queued of "old"; "unread"'s is not read
    # Both rows leave the stream: the reader's cursor is before an event it never got.
    assert compaction.compact(now=clock.now() + timedelta(hours=2)) == 2
    with opened(f"{url}?after={cursor}", token) as ws:
        resync = recv_json(ws)
        assert resync["type"] == "resync" and resync["cursor"] != cursor
        new = services.instance_create(tenant=tenant, workflow=wf, id="new")
        event = recv_json(ws)
        assert (event["instance"], event["type"]) == (str(new.pk), "workflow_queued")
    with opened(f"{url}?after={resync['cursor']}", token) as ws:  # the resync's cursor: exact, no resync
        assert recv_json(ws) == event
