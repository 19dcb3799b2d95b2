"""Versions: immutable, published explicitly, diffed; archive stops schedules; tenant-scoped reads."""
import pytest

from builder.models import Schedule
from builder.selectors import version_diff, version_get, workflow_get
from builder.services import version_create_from_graph, version_publish, workflow_archive, workflow_create
from tenants.errors import Conflict, InvalidInput, NotFound

from .helpers import graph

V1 = graph([("start", "manual", {}), ("a", "code", {"code": "return 1;"}), ("b", "code", {"code": "return steps.a + 1;"}),
            ("c", "code", {"code": "return 3;"}), ("d", "code", {"code": "return 4;"})],
           [("start", "a"), ("a", "b"), ("start", "c"), ("c", "d")])
V2 = graph([("start", "manual", {}), ("a", "code", {"code": "return 1;", "label": "renamed"}),
            ("b", "code", {"code": "return steps.a + 1;"}), ("c", "code", {"code": "return 30;"}),
            ("d", "code", {"code": "return 4;"}), ("e", "code", {"code": "return 5;"})],
           [("start", "a"), ("a", "b"), ("start", "c"), ("c", "d"), ("d", "e")])


def test_diff_lists_changes_and_the_checkpoints_that_stay_valid(tenant):
    wf = workflow_create(tenant=tenant, slug="diffed")
    v1 = version_create_from_graph(workflow=wf, graph=V1, publish=True)
    v2 = version_create_from_graph(workflow=wf, graph=V2)
    wf.refresh_from_db()
    assert wf.published_version == v1  # saving a version does not publish it
    diff = version_diff(old=v1, new=v2)
    assert diff == {"added": ["e"], "removed": [], "changed": ["c"], "valid_checkpoints": ["a", "b", "start"]}
    version_publish(version=v2)
    wf.refresh_from_db()
    assert wf.published_version == v2 and (v1.number, v2.number) == (1, 2)


def test_workflow_slugs_are_checked_and_unique_per_tenant(tenant, other_tenant):
    workflow_create(tenant=tenant, slug="orders")
    with pytest.raises(Conflict):
        workflow_create(tenant=tenant, slug="orders")
    workflow_create(tenant=other_tenant, slug="orders")
    with pytest.raises(InvalidInput) as e:
        workflow_create(tenant=tenant, slug="Not a slug")
    assert e.value.field == "slug"


def test_archiving_stops_schedules(tenant, clock):
    wf = workflow_create(tenant=tenant, slug="ticker")
    version_create_from_graph(workflow=wf, graph=graph([("t", "schedule", {"cron": "* * * * *"})], []), publish=True)
    assert Schedule.objects.filter(workflow=wf).count() == 1
    workflow_archive(workflow=wf)
    assert Schedule.objects.filter(workflow=wf).count() == 0


def test_another_tenants_workflow_and_versions_are_not_found(tenant, other_tenant):
    wf = workflow_create(tenant=tenant, slug="mine")
    version_create_from_graph(workflow=wf, graph=V1)
    with pytest.raises(NotFound):
        workflow_get(tenant=other_tenant, workflow_id=wf.pk)
    with pytest.raises(NotFound):
        version_get(tenant=other_tenant, workflow=wf, number=1)
    assert version_get(tenant=tenant, workflow=wf, number=1).number == 1
