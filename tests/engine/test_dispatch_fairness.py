"""Round-robin across every tenant with due work, however many; expired leases first."""
import uuid
from datetime import timedelta

import pytest

from engine import dispatch
from engine.models import Instance
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db

PROGRAM = "export default async function run(event, step) { return 1; }"


def due_instances(tenant, workflow, count, now, **fields):
    return Instance.objects.bulk_create([
        Instance(tenant=tenant, workflow=workflow, version=workflow.published_version, key=uuid.uuid4().hex,
                 created_at=now, **{"status": "queued", "due_at": now, **fields})
        for _ in range(count)
    ])


def test_every_tenant_with_due_work_is_served_within_one_round_of_calls(tenant, make_workflow, clock):
    """120 tenants with due work (the first with a backlog of 500): successive rounds of 50 reach
    every tenant within ceil(120 / 50) = 3 calls, and the backlog never takes a whole round."""
    now = clock.now()
    tenants = [tenant] + [tenant_create(slug=f"t{n}") for n in range(119)]
    for n, t in enumerate(tenants):
        due_instances(t, make_workflow(PROGRAM, slug=f"w{n}", owner=t), 500 if n == 0 else 2, now)
    by_pk = dict(Instance.objects.values_list("pk", "tenant_id"))
    served: set[int] = set()
    for _ in range(3):
        round_ = dispatch.due_ids(now=clock.advance(milliseconds=1))  # a served tenant waits behind those not yet served
        assert len(round_) == 50
        tenants_in_round = [by_pk[pk] for pk in round_]
        assert tenants_in_round.count(tenant.pk) <= 5  # the backlog gets its lane, not the round
        served |= set(tenants_in_round)
    assert served == {t.pk for t in tenants}


def test_expired_leases_come_before_new_work(tenant, make_workflow, clock):
    now = clock.now()
    wf = make_workflow(PROGRAM)
    due_instances(tenant, wf, 300, now, due_at=now - timedelta(minutes=5))  # an old backlog
    [dead] = due_instances(tenant, wf, 1, now, status="running", lease_owner="dead-worker",
                           due_at=now - timedelta(seconds=1))
    assert dispatch.due_ids(now=now)[0] == dead.pk


def test_a_single_tenant_fills_the_round_and_sleepers_are_not_due(tenant, make_workflow, clock):
    now = clock.now()
    wf = make_workflow(PROGRAM)
    due_instances(tenant, wf, 80, now)
    due_instances(tenant, wf, 30, now, status="waiting", due_at=now + timedelta(days=30))
    assert len(dispatch.due_ids(now=now)) == 50
    assert dispatch.count_due(now=now, cap=1000) == 80
    assert dispatch.next_due_at() == now
