"""The instance list's date filters: any bound a client can send answers a correct page or a 422,
never a 500 (a bound outside what UTC can represent is before or after every instance)."""
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from engine.services import instance_create
from tests.builder.helpers import graph, publish

START = graph([("start", "manual", {})], [])


@pytest.fixture
def two_instances(tenant, clock):
    wf = publish(tenant, START, slug="f")
    first = instance_create(tenant=tenant, workflow=wf)
    clock.advance(hours=1)
    second = instance_create(tenant=tenant, workflow=wf)
    return first, second


def ids(api, query: str) -> list[str]:
    r = api.get(f"/instances?{query}")
    assert r.status_code == 200, r.data
    return [i["id"] for i in r.data["items"]]


@pytest.mark.parametrize("field, value, everything", [
    ("created_after", "0001-01-01T00:00:00+01:00", True),   # in year 0 once in UTC: before every instance
    ("created_after", "0001-01-01T00:00:00Z", True),
    ("created_after", "9999-12-31T23:59:59-01:00", False),  # in year 10000 once in UTC: after every instance
    ("created_before", "9999-12-31T23:59:59-01:00", True),
    ("created_before", "9999-12-31T23:59:59Z", True),
    ("created_before", "0001-01-01T00:00:00+01:00", False),
])
def test_extreme_date_bounds_answer_the_right_page(api, two_instances, field, value, everything):
    expected = [str(two_instances[1].pk), str(two_instances[0].pk)] if everything else []
    assert ids(api, f"{field}={quote(value)}") == expected


def test_date_bounds_in_any_offset_select_by_the_instant(api, two_instances, clock):
    first, second = two_instances
    middle = (first.created_at + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=-5)))
    assert ids(api, "created_after=" + quote(middle.isoformat())) == [str(second.pk)]
    assert ids(api, "created_before=" + quote(middle.isoformat())) == [str(first.pk)]
    naive = (first.created_at + timedelta(minutes=30)).replace(tzinfo=None).isoformat()  # naive means UTC
    assert ids(api, "created_before=" + quote(naive)) == [str(first.pk)]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "10000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"])
def test_unparseable_date_bounds_answer_422(api, two_instances, value):
    r = api.get(f"/instances?created_after={quote(value)}")
    assert r.status_code == 422 and r["Content-Type"].startswith("application/json")


def test_params_with_nan_answer_422_not_500(api, tenant):
    """Python's JSON parser reads NaN and Infinity; they are not JSON and the database refuses them."""
    from django.test import Client

    from tenants.access import api_key_create

    wf = publish(tenant, START, slug="nan")
    token = api_key_create(tenant=tenant, name="nan", role="owner")[1]
    for body in ('{"params": {"x": NaN}}', '{"params": [Infinity]}'):
        r = Client().post(f"/api/v1/workflows/{wf.pk}/instances", data=body, content_type="application/json",
                          HTTP_AUTHORIZATION=f"Bearer {token}")
        assert r.status_code == 422 and r.json()["error"]["field"].startswith("params"), r.content
