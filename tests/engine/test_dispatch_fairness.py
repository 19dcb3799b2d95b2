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


def test_the_tenant_rows_follow_the_instances_whatever_writes_them(tenant, other_tenant, make_workflow, clock):
    """The triggers keep a row for every tenant with a timer (a bulk insert, a raw UPDATE); the
    dispatcher moves a tenant with nothing due to its next timer, drops one with none, and a
    tenant's row comes back as soon as something of it is due again."""
    from engine.models import TenantDue

    now = clock.now()
    wf = make_workflow(PROGRAM)
    [sleeper] = due_instances(tenant, wf, 1, now, status="waiting", due_at=now + timedelta(hours=1))
    assert TenantDue.objects.get(tenant=tenant).at == now + timedelta(hours=1)
    [queued] = due_instances(tenant, wf, 1, now)
    assert TenantDue.objects.get(tenant=tenant).at == now  # the earlier of the two
    assert dispatch.due_ids(now=now) == [queued.pk]
    Instance.objects.filter(pk=queued.pk).update(status="complete", due_at=None)  # finished
    assert dispatch.due_ids(now=clock.advance(seconds=1)) == []
    assert TenantDue.objects.get(tenant=tenant).at == now + timedelta(hours=1)  # settled on its next timer
    Instance.objects.filter(pk=sleeper.pk).update(due_at=clock.now())  # an event wakes it early
    assert dispatch.due_ids(now=clock.now()) == [sleeper.pk]
    Instance.objects.filter(pk=sleeper.pk).update(status="complete", due_at=None)
    assert dispatch.due_ids(now=clock.advance(seconds=1)) == []
    assert not TenantDue.objects.filter(tenant=tenant).exists()  # nothing left: no row
    # A lease given back (the concurrency cap refused the claim) makes the instance due again.
    [held] = due_instances(other_tenant, make_workflow(PROGRAM, slug="o", owner=other_tenant), 1, now,
                           status="running", lease_owner="w", due_at=now + timedelta(minutes=1))
    assert not TenantDue.objects.filter(tenant=other_tenant).exists()  # a lease is not a timer
    Instance.objects.filter(pk=held.pk).update(lease_owner="", due_at=clock.now())
    assert dispatch.due_ids(now=clock.now()) == [held.pk]


def test_every_tenant_of_thousands_is_served_within_one_round_of_claims(tenant, clock):
    """2,000 tenants with one due instance each and 5 with a backlog of 1,000: claiming as a worker
    does, every tenant's first instance is claimed within one round of all of them (the backlogs
    take one claim per round, not the round)."""
    from console.bench_scale import Tenants
    from engine import lease

    tenants = Tenants(2005)
    tenants.instances([1000 if n < 5 else 1 for n in range(2005)], due_at=clock.now())
    heavy = set(tenants.ids[:5])
    first: dict[int, int] = {}
    claimed = 0
    while len(first) < 2005:
        now = clock.advance(milliseconds=1)
        ids = dispatch.due_ids(now=now)
        assert ids, f"{2005 - len(first)} tenants never served"
        for pk in ids:
            instance = lease.claim(pk, worker="w", now=now)
            if instance is None:
                continue
            claimed += 1
            first.setdefault(instance.tenant_id, claimed)
            Instance.objects.filter(pk=pk).update(status="complete", due_at=None, lease_owner="")
    assert max(first.values()) <= 2005 + 5 * 2  # one round, give or take the backlogs' extra turn
    assert all(first[t] <= 50 for t in heavy)  # the backlogs had their turn in the first round too
