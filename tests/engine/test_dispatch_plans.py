"""Dispatch queries read index ranges of due instances only: checked with the database's own
EXPLAIN on a table holding many finished and sleeping instances of many tenants (and some due)."""
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from engine import dispatch
from engine.models import Instance
from tenants.services import tenant_create

pytestmark = pytest.mark.django_db

TEMPLATE = "export default async function run(event, step) { return 1; }"


def seed(tenants, make_workflow, clock, *, per_tenant_sleeping: int, per_tenant_finished: int, due: int):
    """Rows as the engine leaves them: finished (due_at NULL), sleeping (due_at in 30 days), due now."""
    now = clock.now()
    rows = []
    for n, tenant in enumerate(tenants):
        wf = make_workflow(TEMPLATE, slug=f"wf{n}", owner=tenant)
        for i in range(per_tenant_sleeping + per_tenant_finished + due):
            kind = "sleeping" if i < per_tenant_sleeping else "finished" if i < per_tenant_sleeping + per_tenant_finished else "due"
            rows.append(Instance(
                tenant=tenant, workflow=wf, version=wf.published_version, key=uuid.uuid4().hex, created_at=now,
                status={"sleeping": "waiting", "finished": "complete", "due": "queued"}[kind],
                due_at={"sleeping": now + timedelta(days=30), "finished": None, "due": now}[kind],
            ))
    Instance.objects.bulk_create(rows, batch_size=500)
    dispatch.analyze()


def quiet_tenants(count: int, clock) -> None:
    """Many more tenants than a round, each with one sleeping instance (bulk inserts): the size at
    which the planners' choices matter."""
    import hashlib

    from builder.models import Workflow, WorkflowVersion
    from tenants.models import Tenant

    tenants = Tenant.objects.bulk_create([Tenant(slug=f"quiet-{n}", name="Quiet") for n in range(count)])
    workflows = Workflow.objects.bulk_create([Workflow(tenant=t, slug="wf", name="wf") for t in tenants])
    versions = WorkflowVersion.objects.bulk_create([
        WorkflowVersion(tenant_id=w.tenant_id, workflow=w, number=1, program=TEMPLATE,
                        program_hash=hashlib.sha256(TEMPLATE.encode()).hexdigest()) for w in workflows])
    Instance.objects.bulk_create([
        Instance(tenant_id=v.tenant_id, workflow_id=v.workflow_id, version=v, key="sleeper", created_at=clock.now(),
                 status="waiting", due_at=clock.now() + timedelta(days=1)) for v in versions], batch_size=500)


def plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(r[-1]) for r in cursor.fetchall())
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def explain_all(fn) -> list[str]:
    """EXPLAIN every statement a dispatch function runs (each one re-run with EXPLAIN first)."""
    from django.db.backends.utils import CursorWrapper

    plans, original = [], CursorWrapper.execute

    def spy(self, sql, params=None):
        if not sql.lstrip().upper().startswith("EXPLAIN"):
            plans.append(plan(sql, list(params or [])))
        return original(self, sql, params)

    CursorWrapper.execute = spy
    try:
        fn()
    finally:
        CursorWrapper.execute = original
    return plans


def test_dispatch_queries_read_index_ranges_of_due_instances_only(tenant, make_workflow, clock):
    tenants = [tenant] + [tenant_create(slug=f"t{n}") for n in range(19)]
    quiet_tenants(5000, clock)
    seed(tenants, make_workflow, clock, per_tenant_sleeping=400, per_tenant_finished=400, due=3)
    assert Instance.objects.count() == 20 * 803 + 5000
    now = clock.now()

    plans = explain_all(lambda: dispatch.due_ids(now=now))
    assert len(plans) == 3, plans  # expired leases, the round of tenants, their lanes
    leases, tenants_plan, lanes = plans
    if connection.vendor == "sqlite":
        # The partial index holds only the instances being advanced right now: reading all of it is bounded.
        assert "USING INDEX instance_leased" in leases, leases
        # The round: the first entries of tenantdue_at (index-only, LIMIT), then updates by primary key.
        assert "USING COVERING INDEX tenantdue_at (at<?)" in tenants_plan, tenants_plan
        assert "engine_instance" not in tenants_plan, tenants_plan
        assert lanes.count("USING INDEX instance_tenant_due (tenant_id=? AND due_at<?)") == 20, lanes
        for p in plans:  # never a table itself
            assert not any(line.strip() in ("SCAN engine_instance", "SCAN engine_tenantdue") for line in p.splitlines()), p
    else:
        assert "instance_leased" in leases, leases
        assert "tenantdue_at" in tenants_plan and "engine_instance" not in tenants_plan, tenants_plan
        assert "Limit" in tenants_plan, tenants_plan
        assert lanes.count("instance_tenant_due") == 20, lanes
        for p in plans:
            assert "Seq Scan" not in p, p
    assert len(dispatch.due_ids(now=now, limit=100)) == 60

    [timer] = explain_all(lambda: dispatch.next_due_at())
    [count] = explain_all(lambda: dispatch.count_due(now=now, cap=100))
    if connection.vendor == "sqlite":
        assert "instance_due" in timer and "SCAN" not in timer.replace("SCAN CONSTANT", ""), timer
        assert "USING COVERING INDEX instance_due (due_at<?)" in count, count
    else:
        assert "instance_due" in timer and "Seq Scan" not in timer, timer
        assert "instance_due" in count and "Seq Scan" not in count, count


def test_the_concurrency_checks_of_a_claim_read_partial_index_ranges(tenant, make_workflow, clock):
    """The tenant cap and the workflow's limit each count live leases in a range of the partial
    index of leased instances, however many instances the tenant and the workflow have."""
    from builder.services import workflow_set_concurrency
    from engine import lease

    tenants = [tenant] + [tenant_create(slug=f"c{n}") for n in range(4)]
    seed(tenants, make_workflow, clock, per_tenant_sleeping=400, per_tenant_finished=400, due=3)
    instance = Instance.objects.filter(tenant=tenant, status="queued").select_related("tenant", "workflow").first()
    workflow_set_concurrency(workflow=instance.workflow, limit=2)
    instance.workflow.refresh_from_db()
    tenant_plan, workflow_plan = explain_all(lambda: lease.at_concurrency_cap(instance, now=clock.now()))
    if connection.vendor == "sqlite":
        assert "USING INDEX instance_leased (tenant_id=? AND due_at>?)" in tenant_plan, tenant_plan
        assert "USING INDEX instance_leased (tenant_id=? AND due_at>?)" in workflow_plan, workflow_plan
    else:
        assert "instance_leased" in tenant_plan and "Seq Scan" not in tenant_plan, tenant_plan
        assert "instance_leased" in workflow_plan and "Seq Scan" not in workflow_plan, workflow_plan
