import json

import pytest
from django.test import Client

from tenants.access import api_key_create


class Api:
    """A JSON client for /api/v1 with a bearer key."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body=None, **headers):
        kwargs = {**self.headers, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(self.client, method.lower())(f"/api/v1{path}", **kwargs)
        try:
            response.data = response.json()
        except ValueError:
            response.data = response.content.decode()
        return response

    def get(self, path, **h):
        return self.call("GET", path, **h)

    def post(self, path, body=None, **h):
        return self.call("POST", path, {} if body is None else body, **h)

    def patch(self, path, body=None, **h):
        return self.call("PATCH", path, body or {}, **h)

    def put(self, path, body=None, **h):
        return self.call("PUT", path, body or {}, **h)

    def delete(self, path, **h):
        return self.call("DELETE", path, **h)


@pytest.fixture
def api(tenant):
    return Api(api_key_create(tenant=tenant, name="tests", role="owner")[1])


@pytest.fixture
def other_api(other_tenant):
    return Api(api_key_create(tenant=other_tenant, name="tests", role="owner")[1])


@pytest.fixture
def viewer_api(tenant):
    return Api(api_key_create(tenant=tenant, name="viewer", role="viewer")[1])


CODE = "export default async function run(event, step) { return await step.do('double', () => event.payload.n * 2); }"


@pytest.fixture
def workflow(api):
    wf = api.post("/workflows", {"slug": "doubler", "name": "Doubler"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"program": CODE, "publish": True}).status_code == 201
    return wf
