"""Hostile and careless requests at the front door: the API, the webhooks and the approval links.

Each case asserts the status, the JSON error body (naming the field where there is one) and that
nothing half-written remains. The last group goes through a real daphne process over real sockets:
bodies refused while they arrive, concurrent Idempotency-Key creates, poisoned deliveries mixed
with another tenant's good ones.
"""
import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
from django.core import signing
from django.db import transaction
from django.test import Client

from triggers.approvals import SALT, approval_links
from builder.models import Workflow, WorkflowVersion
from engine.models import Event, Instance
from tenants.access import api_key_create
from tenants.models import IdempotencyRecord, Secret
from tenants.secrets import secret_put

from tests.builder.helpers import graph, publish
from tests.processes import log_dir, start_daphne, stop, wait_for

from .conftest import CODE, Api
from .test_instance_actions import GRAPH as APPROVAL_GRAPH

pytestmark = pytest.mark.django_db

DEEP = 900  # deeper than any walk that recursed could go
WH_KEY = b"0123456789abcdef0123456789abcdef"
WH_SECRET = "whsec_" + base64.b64encode(WH_KEY).decode()


def deep(n: int = DEEP):
    value: object = 1
    for _ in range(n):
        value = [value]
    return value


def raw(client_api: Api, method: str, path: str, body: bytes, content_type="application/json"):
    """A request with bytes as given (json.dumps would escape what we want to send)."""
    response = getattr(client_api.client, method.lower())(f"/api/v1{path}", data=body, content_type=content_type,
                                                          **client_api.headers)
    response.data = response.json()
    return response


def error_of(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    err = response.json()["error"]
    assert err["code"] and err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return err


# --- depth bombs: 422 naming the field, nothing created ---------------------------------------

def test_params_nested_900_deep_answer_422(api, workflow):
    err = error_of(api.post(f"/workflows/{workflow['id']}/instances", {"params": deep()}), 422)
    assert "deeper than" in err["message"] and (err["field"].startswith("params") or err["field"] == "body")
    assert not Instance.objects.exists()


def test_a_batch_with_a_deep_params_answers_422_and_creates_none(api, workflow):
    body = {"instances": [{"params": {"n": 1}}, {"params": deep()}]}
    error_of(api.post(f"/workflows/{workflow['id']}/instances/batch", body), 422)
    assert not Instance.objects.exists()


def test_an_event_payload_nested_deep_answers_422(api, workflow):
    inst = api.post(f"/workflows/{workflow['id']}/instances", {}).data
    err = error_of(api.post(f"/instances/{inst['id']}/events", {"type": "x", "payload": {"a": deep()}}), 422)
    # Where the parser itself gives up (a deep stack already), the whole body is named.
    assert err["field"].startswith("payload") or err["field"] == "body"
    assert not Event.objects.exists()


def test_validate_with_a_deep_graph_answers_422(api):
    error_of(api.post("/validate", {"graph": {"nodes": deep(), "edges": []}}), 422)


def test_a_new_version_with_a_deep_node_config_answers_422_and_keeps_the_published_one(api, workflow):
    g = {"nodes": [{"id": "t", "type": "manual", "position": {"x": 0, "y": 0}, "data": {"x": deep()}}], "edges": []}
    error_of(api.post(f"/workflows/{workflow['id']}/versions", {"graph": g, "publish": True}), 422)
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 1


def test_a_draft_nested_deep_answers_422(api, workflow):
    error_of(api.patch(f"/workflows/{workflow['id']}", {"draft": {"nodes": deep()}}), 422)
    assert Workflow.objects.get(pk=workflow["id"]).draft is None


def test_a_body_too_deep_for_the_json_parser_itself_answers_422(api):
    body = b'{"graph": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    error_of(raw(api, "POST", "/validate", body), 422)


# --- lone surrogates and NULs: 422 naming the field, nothing stored -----------------------------

@pytest.mark.parametrize("name", ["\\ud800", "a\\udfffb", "\\u0000", "x\\u0000"])
def test_a_workflow_name_with_a_surrogate_or_nul_answers_422(api, name):
    body = f'{{"slug": "s1", "name": "{name}"}}'.encode()
    error_of(raw(api, "POST", "/workflows", body), 422, "name")
    assert not Workflow.objects.exists()


def test_a_secret_value_with_a_lone_surrogate_answers_422(api, tenant):
    error_of(raw(api, "PUT", "/secrets/TOKEN", b'{"value": "\\ud83d"}'), 422, "value")
    assert not Secret.objects.filter(tenant=tenant).exists()


def test_a_secret_name_with_a_lone_surrogate_is_refused(api, tenant):
    r = api.put("/secrets/%ED%A0%80", {"value": "v"})
    assert 400 <= r.status_code < 500 and r["Content-Type"].startswith("application/json")
    assert not Secret.objects.filter(tenant=tenant).exists()


def test_an_api_key_name_with_a_lone_surrogate_answers_422(api, tenant):
    before = tenant.api_keys.count() if hasattr(tenant, "api_keys") else None
    error_of(raw(api, "POST", "/keys", b'{"name": "\\udc00", "role": "viewer"}'), 422, "name")
    if before is not None:
        assert tenant.api_keys.count() == before


def test_an_event_type_with_a_surrogate_or_nul_answers_422(api, workflow):
    inst = api.post(f"/workflows/{workflow['id']}/instances", {}).data
    error_of(raw(api, "POST", f"/instances/{inst['id']}/events", b'{"type": "\\ud800"}'), 422, "type")
    error_of(raw(api, "POST", f"/instances/{inst['id']}/events", b'{"type": "a\\u0000"}'), 422, "type")
    assert not Event.objects.exists()


def test_params_with_a_nul_in_a_key_answer_422(api, workflow):
    error_of(raw(api, "POST", f"/workflows/{workflow['id']}/instances", b'{"params": {"k\\u0000": 1}}'), 422)
    assert not Instance.objects.exists()


def test_a_name_longer_than_its_column_answers_422_on_every_database(api, workflow):
    error_of(api.post("/workflows", {"slug": "long", "name": "x" * 201}), 422, "name")
    error_of(api.patch(f"/workflows/{workflow['id']}", {"name": "x" * 201}), 422, "name")
    assert Workflow.objects.count() == 1 and Workflow.objects.get().name == "Doubler"


# --- bodies that are not JSON, too large, or of another type ------------------------------------

def test_invalid_json_answers_400_json(api):
    error_of(raw(api, "POST", "/workflows", b'{"slug": '), 400)


def test_invalid_utf8_answers_400_json(api):
    error_of(raw(api, "POST", "/workflows", b'{"slug": "\xff\xfe"}'), 400)
    # An encoded surrogate (CESU-8) parses, with surrogatepass, to the same refused character.
    error_of(raw(api, "POST", "/workflows", b'{"slug": "\xed\xa0\x80"}'), 422, "slug")
    assert not Workflow.objects.exists()


def test_a_json_body_that_is_not_an_object_answers_422(api):
    error_of(raw(api, "POST", "/workflows", b"[1, 2]"), 422)


def test_a_wrong_content_type_is_a_4xx_json_answer(api):
    r = raw(api, "POST", "/workflows", b"slug=x", content_type="application/x-www-form-urlencoded")
    assert 400 <= r.status_code < 500 and "error" in r.data
    assert not Workflow.objects.exists()


def test_a_5mb_validate_answers_413_json(api):
    error_of(raw(api, "POST", "/validate", b'{"graph": "' + b"x" * (5 << 20) + b'"}'), 413)


def test_a_2mb_program_answers_413_and_creates_no_version(api, workflow):
    body = json.dumps({"program": "// " + "x" * (2 << 20) + "\n" + CODE, "publish": True}).encode()
    error_of(raw(api, "POST", f"/workflows/{workflow['id']}/versions", body), 413)
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 1


def test_a_1_5mb_batch_answers_413_and_creates_none(api, workflow):
    body = json.dumps({"instances": [{"params": {"pad": "x" * 15_000}} for _ in range(100)]}).encode()
    error_of(raw(api, "POST", f"/workflows/{workflow['id']}/instances/batch", body), 413)
    assert not Instance.objects.exists()


# --- routes and auth --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/workflows/1/nope", "/api/v2/workflows", "/api/"])
def test_unmatched_api_paths_answer_json_404(path):
    r = Client().get(path)
    assert r.status_code == 404 and r["Content-Type"].startswith("application/json")
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("token", [None, "dw_000000000000_" + "0" * 48, "garbage"])
def test_unauthenticated_writes_answer_401_like_reads(token, tenant):
    client = Api(token)
    for method, path in [("POST", "/workflows"), ("PUT", "/secrets/X"), ("DELETE", "/workflows/1"), ("GET", "/workflows")]:
        r = client.call(method, path, {"slug": "x", "value": "v"} if method in ("POST", "PUT") else None)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.data["error"]["code"] == "unauthenticated"
    assert not Workflow.objects.exists()


def test_a_session_write_without_csrf_token_is_still_refused(tenant, django_user_model):
    from tenants.models import Membership

    user = django_user_model.objects.create_user("csrf-user", password="pw")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    r = client.post("/api/v1/workflows", data=json.dumps({"slug": "x"}), content_type="application/json")
    assert r.status_code == 403 and not Workflow.objects.exists()


@pytest.mark.parametrize("path", ["/workflows?search=a%00b", "/instances?status=%00", "/members/x%00y",
                                  "/instances/abc%00/events", "/workflows?search%00=x"])
def test_a_nul_in_a_path_or_query_answers_422_on_every_database(api, path):
    r = api.get(path) if "events" not in path else api.post(path, {"type": "t"})
    err = error_of(r, 422)
    assert err["field"] in ("path", "search", "status", "search\x00")


@pytest.mark.parametrize("key", ["a\x00b", "x" * 256, "caf\u00e9"])
def test_an_unprintable_or_long_idempotency_key_answers_422(api, workflow, key):
    r = api.post(f"/workflows/{workflow['id']}/instances", {}, **{"Idempotency-Key": key})
    error_of(r, 422, "Idempotency-Key")
    assert not Instance.objects.exists() and not IdempotencyRecord.objects.exists()


def test_the_editor_and_console_pages_carry_a_content_security_policy(admin_client):
    for path in ("/editor/", "/admin/", "/accounts/login/"):
        policy = admin_client.get(path)["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "script-src 'self';" in Client().get("/accounts/login/")["Content-Security-Policy"]


def test_the_signup_page_patterns_compile_under_the_v_flag():
    """Browsers compile `pattern` with the v flag, where an unescaped '-' in a class is an error
    and the browser then checks nothing (the server validates the slug either way)."""
    import re
    import shutil
    import subprocess

    page = Client().get("/accounts/signup/")
    assert page.status_code == 200
    patterns = re.findall(r'pattern="([^"]+)"', page.content.decode())
    node = shutil.which("node")
    if patterns and node is None:
        pytest.skip("no node to compile the patterns as a browser does")
    for pattern in patterns:
        done = subprocess.run([node, "-e", "new RegExp('^(?:' + process.argv[1] + ')$', 'v');", pattern],
                              capture_output=True, text=True)
        assert done.returncode == 0, (pattern, done.stderr)


# --- programs and graphs that do not compile ---------------------------------------------------

def test_a_program_with_a_syntax_error_answers_422_with_line_and_column(api, workflow):
    before = Workflow.objects.get(pk=workflow["id"]).published_version_id
    program = "export default async function run(event, step) {\n  return this is not ( javascript;\n}"
    err = error_of(api.post(f"/workflows/{workflow['id']}/versions", {"program": program, "publish": True}), 422, "program")
    assert err["code"] == "invalid_program" and err["line"] == 2 and isinstance(err["column"], int)
    assert "SyntaxError" in err["message"]
    assert Workflow.objects.get(pk=workflow["id"]).published_version_id == before
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 1


def test_the_issue_program_is_refused_and_new_instances_still_run_the_working_version(api, workflow, drive):
    r = api.post(f"/workflows/{workflow['id']}/versions", {"program": "this is not ( javascript", "publish": True})
    error_of(r, 422, "program")
    inst = api.post(f"/workflows/{workflow['id']}/instances", {"params": {"n": 4}}).data
    drive()
    assert api.get(f"/instances/{inst['id']}").data["output"] == 8


def test_a_program_importing_an_unknown_module_answers_422(api, workflow):
    program = 'import fs from "node:fs";\nexport default async function run() { return 1; }'
    err = error_of(api.post(f"/workflows/{workflow['id']}/versions", {"program": program}), 422, "program")
    assert "node:fs" in err["message"]


def test_checking_a_program_never_runs_its_top_level_code(api, workflow):
    program = "while (true) {}\nexport default async function run() { return 1; }"
    assert api.post(f"/workflows/{workflow['id']}/versions", {"program": program}).status_code == 201


def test_a_graph_that_does_not_validate_answers_422_with_the_node(api, workflow):
    g = {"nodes": [{"id": "t", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                   {"id": "bad", "type": "code", "position": {"x": 0, "y": 0}, "data": {"code": "return (;"}}],
         "edges": [{"id": "e", "source": "t", "target": "bad"}]}
    err = error_of(api.post(f"/workflows/{workflow['id']}/versions", {"graph": g, "publish": True}), 422)
    assert err["node_id"] == "bad"
    assert WorkflowVersion.objects.filter(workflow_id=workflow["id"]).count() == 1


# --- Idempotency-Key ---------------------------------------------------------------------------

def test_the_same_key_with_another_body_answers_422(api, workflow):
    path = f"/workflows/{workflow['id']}/instances"
    first = api.post(path, {"params": {"n": 1}}, **{"Idempotency-Key": "k1"})
    assert first.status_code == 201
    assert api.post(path, {"params": {"n": 1}}, **{"Idempotency-Key": "k1"}).data == first.data
    error_of(api.post(path, {"params": {"n": 2}}, **{"Idempotency-Key": "k1"}), 422, "Idempotency-Key")
    assert Instance.objects.count() == 1


def test_a_key_in_flight_answers_409_and_runs_nothing(api, workflow, tenant):
    path = f"/workflows/{workflow['id']}/instances"
    body = json.dumps({"params": {"n": 1}}).encode()
    digest = hashlib.sha256(b"POST /api/v1" + path.encode() + b"\n" + body).hexdigest()
    IdempotencyRecord.objects.create(tenant=tenant, key="busy", request_hash=digest, status=0, body={})  # another request's claim
    r = api.client.post(f"/api/v1{path}", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy", **api.headers)
    error_of(r, 409, "Idempotency-Key")
    assert not Instance.objects.exists()


def test_a_refused_operation_frees_its_key(api, workflow):
    path = f"/workflows/{workflow['id']}/instances"
    error_of(api.post(path, {"id": "-bad id"}, **{"Idempotency-Key": "k2"}), 422, "id")
    assert not IdempotencyRecord.objects.filter(key="k2").exists()
    assert api.post(path, {"id": "-bad id"}, **{"Idempotency-Key": "k2"}).status_code == 422


# --- webhooks: poisoned deliveries never fail another's ----------------------------------------

def _hooks(tenant, other_tenant):
    publish(tenant, graph([("hook", "webhook", {"auth": "none"})], []), slug="open")
    publish(other_tenant, graph([("hook", "webhook", {"auth": "standard_webhooks"})], []), slug="orders")
    secret_put(tenant=other_tenant, name="WEBHOOK_SECRET", value=WH_SECRET)
    from triggers import webhooks
    webhooks._targets.clear()
    webhooks._secrets.clear()


def signed_headers(msg_id: str, body: bytes) -> dict:
    at = str(int(time.time()))
    mac = hmac.new(WH_KEY, f"{msg_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": at,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


POISONS = [
    b"[" * 600 + b"]" * 600,                    # the issue's bomb: RecursionError in the group commit
    b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # deeper than the JSON parser's own limit
    b'{"name": "\\ud800"}',                      # a lone surrogate (PostgreSQL's jsonb refuses it)
    b'{"k\\u0000": 1}',                          # U+0000
]


@pytest.mark.parametrize("poison", POISONS, ids=["600-deep", "5000-deep", "surrogate", "nul"])
def test_a_poisoned_delivery_in_a_batch_fails_alone(tenant, other_tenant, poison):
    from triggers.hooks_asgi import GroupCommit
    from triggers.webhooks import Delivery

    _hooks(tenant, other_tenant)
    other_slug = other_tenant.slug
    batch = [("delivery", (tenant.slug, "open", ""), Delivery("POST", {"content-type": "application/json"}, {}, poison))]
    for n in range(20):
        body = json.dumps({"n": n}).encode()
        batch.append(("delivery", (other_slug, "orders", ""), Delivery("POST", signed_headers(f"good-{n}", body), {}, body)))
    batch.insert(10, batch[0])
    with transaction.atomic():
        answers = GroupCommit.write([(*item, None, None) for item in batch])
    statuses = [a.status for a in answers]
    assert statuses[0] == statuses[10] == 422 and answers[0].body["error"]["code"] == "invalid_body"
    assert statuses.count(202) == 20
    assert Instance.objects.filter(tenant=other_tenant).count() == 20
    assert not Instance.objects.filter(tenant=tenant).exists()


def test_a_delivery_failing_unexpectedly_fails_alone(tenant, other_tenant, monkeypatch):
    """A fault nobody foresaw (here, the database refusing one delivery's params) costs that
    delivery only: the batch insert falls back to a savepoint per delivery."""
    from triggers.hooks_asgi import GroupCommit
    from triggers.webhooks import Delivery
    from engine import services

    _hooks(tenant, other_tenant)
    real = services._check_size

    def refuse_one(value, field):
        if isinstance(value, dict) and value.get("body") == {"explode": True}:
            raise RuntimeError("the database refused this row")
        return real(value, field)

    monkeypatch.setattr(services, "_check_size", refuse_one)
    batch = [("delivery", (tenant.slug, "open", ""), Delivery("POST", {"content-type": "application/json"}, {}, b'{"explode": true}'))]
    for n in range(5):
        body = json.dumps({"n": n}).encode()
        batch.append(("delivery", (other_tenant.slug, "orders", ""), Delivery("POST", signed_headers(f"ok-{n}", body), {}, body)))
    with transaction.atomic():
        answers = GroupCommit.write([(*item, None, None) for item in batch])
    assert [a.status for a in answers] == [500] + [202] * 5
    assert answers[0].body["error"]["code"] == "internal"
    assert Instance.objects.filter(tenant=other_tenant).count() == 5


@pytest.mark.parametrize("body, ctype, status", [
    (b'{"a": ' + b"[" * 900 + b"]" * 900 + b"}", "application/json", 422),
    (b'{"x": "\\udfff"}', "application/json", 422),
    (b"text with \x00 inside", "text/plain", 422),
    (b"\xff\xfe not utf-8", "text/plain", 415),
    (b"{not json", "application/json", 400),
])
def test_bad_webhook_bodies_answer_4xx_through_the_view(tenant, other_tenant, body, ctype, status):
    _hooks(tenant, other_tenant)
    r = Client().post(f"/hooks/{tenant.slug}/open", data=body, content_type=ctype)
    assert r.status_code == status and r.json()["error"]["code"]
    assert not Instance.objects.exists()


# --- approval links ----------------------------------------------------------------------------

@pytest.fixture
def waiting_approval(api, clock, drive):
    wf = api.post("/workflows", {"slug": "approve-me"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"graph": APPROVAL_GRAPH, "publish": True}).status_code == 201
    inst = api.post(f"/workflows/{wf['id']}/instances", {}).data
    drive()
    return Instance.objects.get(pk=inst["id"])


def test_an_approval_link_signed_with_the_old_constant_key_is_refused(waiting_approval, settings):
    payload = {"i": str(waiting_approval.pk), "s": "manager", "o": 1, "d": "approve"}
    forged = signing.dumps(payload, key="embedded-mode-insecure-key-set-SECRET_KEY-in-production", salt=SALT, compress=True)
    assert settings.SECRET_KEY != "embedded-mode-insecure-key-set-SECRET_KEY-in-production"
    assert Client().get(f"/approvals/{forged}/").status_code == 404
    assert Client().post(f"/approvals/{forged}/").status_code == 404
    assert not Event.objects.exists()


def test_an_approval_link_is_single_use_and_expires_with_the_wait(waiting_approval, drive):
    links = approval_links(instance=waiting_approval, step="manager")
    client = Client()
    assert client.post(links["approve"]).status_code == 200
    assert client.post(links["reject"]).status_code == 409  # decided, not yet taken by the instance
    assert client.post(links["approve"]).status_code == 409
    drive()
    assert client.get(links["approve"]).status_code == 410  # the wait is over: the link expired
    assert client.post(links["reject"]).status_code == 410
    assert Event.objects.filter(instance=waiting_approval).count() == 1


def test_an_approval_link_decides_only_its_occurrence(waiting_approval):
    links = approval_links(instance=waiting_approval, step="manager", occurrence=2)
    assert Client().post(links["approve"]).status_code == 409
    assert not Event.objects.exists()


# --- real server: daphne over real sockets ------------------------------------------------------

class Server(NamedTuple):
    port: int
    log: Path
    offset: int  # where this server's lines begin in its log


@pytest.fixture
def server(transactional_db):
    log = log_dir() / "hostile-serve.log"
    offset = log.stat().st_size if log.exists() else 0
    # Port 0: the server binds a free port itself and start_daphne reads it back (no race for it).
    proc, port = start_daphne("hostile-serve", args=[sys.executable, "manage.py", "serve", "--workers", "0", "--port", "0"])
    yield Server(port, log, offset)
    stop(proc)


def stream_upload(port: int, path: str, total: int, chunked: bool, headers: str = "") -> tuple[int, bytes]:
    """Upload `total` bytes until the server stops reading; (bytes the socket took, the answer)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.settimeout(30)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    sock.sendall(head.encode())
    sent, piece = 0, b"7" * 65536
    try:
        while sent < total:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    return sent, answer


def server_read(server: Server) -> list[int]:
    """The body bytes this server read before each refusal, from its own lines of the log."""
    with open(server.log, "rb") as f:
        f.seek(server.offset)
        log = f.read().decode(errors="replace")
    return [int(line.rsplit("after reading ", 1)[1].split()[0]) for line in log.splitlines() if "body limit: refused" in line]


@pytest.mark.processes
@pytest.mark.parametrize("path", ["/api/v1/validate", "/hooks/acme/orders", "/accounts/login/"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50mb_upload_is_refused_while_it_arrives(server, path, chunked, settings):
    limit = settings.REQUEST_MAX_BODY_BYTES
    sent, answer = stream_upload(server.port, path, 50 << 20, chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "too_large"
    # The server read at most the limit and one buffer of the body, then closed: what the client
    # managed to send beyond that sat in the two kernels' socket buffers.
    read = wait_for(lambda: server_read(server), what="the refusal in the server's log")[-1]
    assert read <= 2 * limit
    assert sent < 50 << 20
    print(f"{path} chunked={chunked}: server read {read} body bytes, the client's socket took {sent}")


@pytest.mark.processes
def test_a_slow_upload_under_the_limit_is_answered(server, tenant):
    """A body trickled in pieces is received whole and answered, not cut by the limit logic."""
    key = api_key_create(tenant=tenant, name="slow", role="owner")[1]
    body = json.dumps({"slug": "slow", "name": "Slow", "draft": {"pad": "x" * 20_000}}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    for n in range(0, len(body), 2000):
        sock.sendall(body[n:n + 2000])
        time.sleep(0.01)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert Workflow.objects.filter(slug="slow").count() == 1


def _http(port: int, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


@pytest.mark.processes
def test_20_parallel_creates_with_one_idempotency_key_make_exactly_one_instance(server, tenant):
    key = api_key_create(tenant=tenant, name="race", role="owner")[1]
    wf = Workflow.objects.create(tenant=tenant, slug="race")
    from builder.services import version_create_from_code
    version_create_from_code(workflow=wf, program=CODE, publish=True)
    body = json.dumps({"params": {"n": 1}}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "one-key"}
    barrier = threading.Barrier(20)

    def create(_):
        barrier.wait()
        return _http(server.port, "POST", f"/api/v1/workflows/{wf.pk}/instances", body, headers)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(create, range(20)))
    created = [json.loads(b) for s, b in answers if s == 201]
    assert {s for s, _ in answers} <= {201, 409}, [s for s, _ in answers]
    assert created and all(c == created[0] for c in created)
    for status, data in answers:
        if status == 409:
            assert json.loads(data)["error"]["field"] == "Idempotency-Key"
    assert Instance.objects.filter(workflow=wf).count() == 1
    # Once the first answered, every retry gets that answer.
    status, data = _http(server.port, "POST", f"/api/v1/workflows/{wf.pk}/instances", body, headers)
    assert status == 201 and json.loads(data) == created[0]


@pytest.mark.processes
def test_poisoned_deliveries_never_fail_another_tenants_concurrent_deliveries(server, tenant, other_tenant):
    _hooks(tenant, other_tenant)

    def good(n):
        body = json.dumps({"n": n}).encode()
        return _http(server.port, "POST", f"/hooks/{other_tenant.slug}/orders", body, signed_headers(f"c-{n}", body))

    def poisoned(n):
        return _http(server.port, "POST", f"/hooks/{tenant.slug}/open", POISONS[n % len(POISONS)], {"Content-Type": "application/json"})

    with ThreadPoolExecutor(24) as pool:
        bad = [pool.submit(poisoned, n) for n in range(20)]
        ok = [pool.submit(good, n) for n in range(20)]
        goods = [f.result() for f in ok]
        bads = [f.result() for f in bad]
    assert [s for s, _ in goods] == [202] * 20
    assert {s for s, _ in bads} == {422}
    assert Instance.objects.filter(tenant=other_tenant).count() == 20
    assert not Instance.objects.filter(tenant=tenant).exists()


# --- WebSocket: bad frames, query strings and headers close nothing but their own socket --------

@pytest.mark.django_db(transaction=True)
def test_garbage_on_a_progress_socket_is_ignored_and_bad_queries_do_not_crash_it(tenant, make_workflow, settings):
    import asyncio

    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from engine import services

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    token = api_key_create(tenant=tenant, name="ws")[1]
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(CODE))

    async def scenario():
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                   (b"x-odd", b"\xff\xfe")]
        ws = WebsocketCommunicator(application, f"/ws/instances/{inst.pk}/?after={10**40}&tenant=%00%ff", headers=headers)
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(text_data="[" * 100_000 + "not json")
        await ws.send_to(bytes_data=b"\x00\xff" * 1000)
        assert await ws.receive_nothing(timeout=0.5)  # still open, nothing sent, nothing raised
        await ws.disconnect()

    asyncio.run(scenario())
