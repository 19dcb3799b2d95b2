"""Every operation of the OpenAPI schema, called with tenant B's key on tenant A's ids: 404.
Generated from the schema, so a new endpoint cannot escape it (an unknown path parameter fails)."""
import re

import pytest

from config.api import api as ninja_api
from tenants.secrets import secret_put

from .conftest import CODE


@pytest.fixture
def a_rows(api, clock, drive, tenant):
    from engine.models import Instance

    from .test_instance_actions import GRAPH

    wf = api.post("/workflows", {"slug": "private"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"graph": GRAPH, "publish": True}).status_code == 201
    api.post(f"/workflows/{wf['id']}/versions", {"program": CODE})
    inst = api.post(f"/workflows/{wf['id']}/instances", {"params": {"n": 1}}).data
    drive()  # A's instance really waits on its approval step "manager": B's 404 is about the tenant
    assert Instance.objects.get(pk=inst["id"]).wait_types
    key = api.post("/keys", {"name": "a-key"}).data
    secret_put(tenant=tenant, name="A_SECRET", value="a")
    from django.contrib.auth.models import User

    from tenants.models import Membership

    Membership.objects.create(tenant=tenant, user=User.objects.create_user("a-member", password="pw"), role="editor")
    invitation = api.post("/invitations", {"to": "someone@example.com", "role": "viewer"}).data
    return {"workflow_id": wf["id"], "number": 1, "instance_id": inst["id"], "key_id": key["id"], "name": "A_SECRET",
            "username": "a-member", "tenant": tenant, "step": "manager", "invitation_id": invitation["id"],
            "node_id": "manager"}


BODIES = {"post": {"type": "t", "graph": {}, "program": CODE, "slug": "s", "name": "n", "value": "v", "instances": [{}],
                   "tenant": "acme", "decision": "approve"}, "put": {"value": "v", "username": "a-member", "role": "viewer"},
          "patch": {"name": "n"}}


def operations():
    schema = ninja_api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method in methods:
            yield path.replace("/api/v1", "", 1), method


@pytest.mark.parametrize("path, method", list(operations()))
def test_another_tenants_ids_answer_404(path, method, a_rows, api, other_api):
    params = re.findall(r"{(\w+)}", path)
    unknown = set(params) - set(a_rows) - {"tenant"}
    assert not unknown, f"extend the isolation matrix for {unknown}"
    url = path
    for p in params:
        url = url.replace("{" + p + "}", str(a_rows[p]))
    if "against" not in url and url.endswith("/diff"):
        url += "?against=1"
    r = other_api.call(method.upper(), url, BODIES.get(method))
    if (method, path) == ("put", "/secrets/{name}"):
        # Secret names are per tenant: B writing "A_SECRET" creates B's own; A's is untouched.
        from tenants.secrets import secret_value

        assert r.status_code == 204 and secret_value(tenant_id=a_rows["tenant"].pk, name="A_SECRET") == "a"
        return
    if (method, path) == ("put", "/members/{username}"):
        # A's member is not B's: 404, and A's membership of that person is untouched.
        from tenants.models import Membership

        assert r.status_code == 404 and r.data["error"]["code"] == "not_found", r.data
        assert Membership.objects.get(tenant=a_rows["tenant"], user__username="a-member").role == "editor"
        return
    if params:
        assert r.status_code == 404, (method, url, r.status_code, r.data)
        assert r.data["error"]["code"] == "not_found", r.data
        # The control: the same call with A's own key finds the row, so B's 404 is the tenant's wall.
        mine = api.call(method.upper(), url, BODIES.get(method))
        assert mine.status_code != 404 and mine.status_code < 500, (method, url, mine.status_code, mine.data)
    else:
        assert r.status_code < 500, (method, url, r.status_code, r.data)
        assert str(a_rows["instance_id"]) not in str(r.data) and "private" not in str(r.data)
