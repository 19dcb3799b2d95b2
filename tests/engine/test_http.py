"""step.http: SSRF-safe by default, with redirects re-checked; a loopback test server is reachable
only when the operator allows it."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import services
from engine.capabilities import Call, CapabilityError
from engine.capabilities import http as http_cap
from engine.models import Instance
from tenants.limits import limits_for


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("location", self.path.split("to=", 1)[1])
            self.end_headers()
            return
        if self.path == "/big":
            body = b"x" * (2 * 1024 * 1024)
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = json.dumps({"path": self.path, "host": self.headers["host"], "auth": self.headers.get("authorization")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        data = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"received": json.loads(data)}).encode())


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


def call(tenant, args, step="s"):
    return http_cap.http(Call(tenant=tenant, instance=None, args=args, plan=limits_for(tenant), step=step))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://10.0.0.1/", "http://172.16.0.1/",
    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://0.0.0.0/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/", "http://[2002:7f00:1::]/", "http://[64:ff9b::a00:1]/",
    "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/",
])
def test_non_public_addresses_are_refused(tenant, url):
    with pytest.raises(CapabilityError) as e:
        call(tenant, {"url": url})
    # httpx itself refuses some spellings (e.g. octal) as not URLs: refused before any lookup either way.
    assert e.value.name == "HttpForbiddenError" or str(e.value).startswith("not a URL"), str(e.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://example.com/", "/relative"])
def test_other_schemes_are_refused(tenant, url):
    with pytest.raises(CapabilityError) as e:
        call(tenant, {"url": url})
    assert e.value.name == "HttpForbiddenError"


def test_a_name_resolving_to_a_private_address_is_refused(tenant, monkeypatch):
    # Names outside this machine cannot be resolved here: the resolver is the one fake.
    monkeypatch.setattr(http_cap, "resolve", lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(CapabilityError) as e:
        call(tenant, {"url": "https://rebind.example/"})
    assert e.value.name == "HttpForbiddenError" and "10.0.0.7" in str(e.value)


def test_the_checked_address_is_the_one_connected_to(tenant, server, settings, monkeypatch):
    """No DNS rebinding: the request goes to the address that passed the check, with the original Host."""
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    port = server.rsplit(":", 1)[1]
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a second lookup would get another answer
    monkeypatch.setattr(http_cap, "resolve", lambda host, p: next(answers))
    result = call(tenant, {"url": f"http://api.internal.test:{port}/hello"})
    assert result["json"]["host"] == f"api.internal.test:{port}"


def test_loopback_is_reachable_only_when_the_operator_allows_it(tenant, server, settings):
    with pytest.raises(CapabilityError):
        call(tenant, {"url": server + "/x"})
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.0/8"]
    result = call(tenant, {"url": server + "/x", "headers": {"authorization": "Bearer t"}})
    assert (result["status"], result["json"]["path"], result["json"]["auth"]) == (200, "/x", "Bearer t")
    posted = call(tenant, {"url": server + "/p", "method": "POST", "json": {"a": 1}})
    assert (posted["status"], posted["json"]) == (201, {"received": {"a": 1}})


def test_a_redirect_to_a_private_address_is_refused(tenant, server, settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    ok = call(tenant, {"url": server + "/redirect?to=/final"})
    assert ok["json"]["path"] == "/final"
    with pytest.raises(CapabilityError) as e:
        call(tenant, {"url": server + "/redirect?to=http://169.254.169.254/latest"})
    assert e.value.name == "HttpForbiddenError"


def test_response_size_and_call_count_are_capped(tenant, server, settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    tenant.limits = {"http_response_bytes": 1024 * 1024}
    with pytest.raises(CapabilityError) as e:
        call(tenant, {"url": server + "/big"})
    assert e.value.name == "HttpResponseTooLargeError"
    tenant.limits = {"http_calls_per_step": 2}
    plan = limits_for(tenant)
    counters = {}
    for n in range(3):
        c = Call(tenant=tenant, instance=None, args={"url": server + "/"}, plan=plan, step="s", counters=counters)
        if n < 2:
            http_cap.http(c)
        else:
            with pytest.raises(CapabilityError) as e:
                http_cap.http(c)
            assert e.value.name == "HttpLimitError"


def test_a_program_calls_http_inside_a_step(tenant, clock, make_workflow, drive, server, settings):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    wf = make_workflow(f"""
    export default async function run(event, step) {{
      const res = await step.do("fetch", () => step.http({{ url: "{server}/orders/7" }}));
      let refused;
      try {{ await step.do("evil", {{ retries: {{ limit: 0 }} }}, () => step.http("http://169.254.169.254/")); }}
      catch (e) {{ refused = e.name; }}
      return {{ path: res.json.path, refused }};
    }}""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert json.loads(inst.output) == {"path": "/orders/7", "refused": "HttpForbiddenError"}
