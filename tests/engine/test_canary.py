"""Canary secrets: real where they are used, nowhere else.

Secrets of every awkward shape are used in step.http headers and bodies by a program run by a
real engine worker process; a loopback receiver must get them intact, and no API answer from a
real daphne, no WebSocket frame, no log line and no byte of the database (the SQLite file and its
WAL, or every row of every PostgreSQL table as text) may hold them in any encoding.
"""
import base64
import json
import os
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from engine import services
from engine.capabilities.secrets import Redactor
from engine.models import Instance
from tenants import secrets
from tenants.access import api_key_create
from tests.processes import log_dir, start_daphne, start_engine_worker, stop

from .test_fencing import Receiver

CANARIES = {
    "ASCII": "canary-ascii-5f1e9a7c",
    "QUOTED": 'pw"é-7731\\back\\slash',
    "EMOJI": "canary-🔑-émoji-ñ-8842",
    "PEM": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7canary\n-----END PRIVATE KEY-----",
}
# A header value must be one line of Latin-1 (HTTP): those secrets go in headers, all go in bodies.
IN_HEADERS = ("ASCII", "QUOTED")

PROGRAM = """
export default async function run(event, step) {
  const names = %s, inHeaders = %s, url = %s;
  const values = {};
  for (const n of names) values[n] = await step.secret(n);
  const sent = await step.do("send", async () => {
    const statuses = [];
    for (const n of names) {
      const headers = inHeaders.includes(n) ? { Authorization: "Bearer " + values[n] } : {};
      const res = await step.http({ url: url + "/" + n, method: "POST", headers, json: { secret: values[n], nested: JSON.stringify({ v: values[n] }) } });
      statuses.push(res.status);
    }
    console.log("sent", values, JSON.stringify(JSON.stringify(values)));
    return statuses;
  });
  try {
    await step.do("leaky", { retries: { limit: 0 } }, () => { throw new Error("failed with " + JSON.stringify(values)); });
  } catch (e) { console.error(e.message); }
  return { sent, values, twice: JSON.stringify(JSON.stringify(values)), lengths: names.map((n) => values[n].length) };
}"""


def forms(value: str) -> set[str]:
    """Every encoding the test looks for: raw, JSON-escaped (both ways, nested), base64."""
    out = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
           json.dumps(json.dumps(value))[1:-1], json.dumps(json.dumps(value, ensure_ascii=False), ensure_ascii=False)[1:-1],
           base64.b64encode(value.encode()).decode(), base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")}
    if "\n" in value:
        out |= set(value.split("\n")[1:3])  # lines of the PEM's body on their own
    return out


def leaks(blob: str) -> list[str]:
    return [f"{name}:{form[:20]!r}" for name, value in CANARIES.items() for form in forms(value) if form in blob]


def database_text() -> str:
    """Every row of every table, as text (PostgreSQL: row_to_json of each row)."""
    tables = connection.introspection.table_names()
    chunks = []
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
            else:
                cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def database_file_bytes() -> bytes:
    if connection.vendor != "sqlite":
        return b""
    name = connection.settings_dict["NAME"]
    # Read by another process: closing a descriptor of the database file in this process would drop
    # every POSIX lock SQLite holds on it here (sqlite.org/howtocorrupt.html, 2.2), and later tests
    # then failed with "disk I/O error".
    files = [name + suffix for suffix in ("", "-wal") if os.path.exists(name + suffix)]
    return subprocess.run(["cat", *files], capture_output=True, check=True, timeout=60).stdout


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_canary_secrets_reach_the_receiver_and_nothing_else(tenant, make_workflow, monkeypatch, request):
    import httpx
    from websockets.sync.client import connect as ws_connect

    monkeypatch.setenv("SECRETS_KEYS", Fernet.generate_key().decode())
    secrets.reset_keys()
    # The canary key is this test's only: later tests, and the servers they start, read the key file.
    request.addfinalizer(secrets.reset_keys)
    for name, value in CANARIES.items():
        secrets.secret_put(tenant=tenant, name=name, value=value)
    receiver = Receiver()
    token = api_key_create(tenant=tenant, name="canary", role="viewer")[1]
    wf = make_workflow(PROGRAM % (json.dumps(list(CANARIES)), json.dumps(IN_HEADERS), json.dumps(receiver.url)))
    env = {"ENGINE_HTTP_ALLOWED_PRIVATE": "127.0.0.1"}
    server, port = start_daphne("canary-daphne", **env)  # binds a free port itself (no race)
    worker = None
    frames = []
    try:
        inst = services.instance_create(tenant=tenant, workflow=wf)
        with ws_connect(f"ws://127.0.0.1:{port}/ws/instances/{inst.pk}/", origin="http://127.0.0.1",
                        additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10) as ws:
            worker = start_engine_worker("canary-worker", **env)
            while not frames or json.loads(frames[-1])["type"] not in ("workflow_completed", "workflow_errored"):
                frames.append(ws.recv(timeout=60))
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}/api/v1"
        answers = [httpx.get(f"{base}/instances/{inst.pk}", headers=headers, timeout=30),
                   httpx.get(f"{base}/instances", headers=headers, timeout=30),
                   httpx.get(f"{base}/instances/{inst.pk}/progress", headers=headers, timeout=30)]
    finally:
        if worker:
            stop(worker)
        stop(server)
        receiver.close()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete", inst.error
    out = json.loads(inst.output)
    # The program had the real values (their lengths), the receiver got them intact...
    assert out["lengths"] == [len(v.encode("utf-16-le")) // 2 for v in CANARIES.values()] and out["sent"] == [200] * len(CANARIES)
    got = {r["path"].strip("/"): r for r in receiver.requests}
    for name, value in CANARIES.items():
        body = json.loads(got[name]["body"])
        assert body == {"secret": value, "nested": json.dumps({"v": value}, ensure_ascii=False, separators=(",", ":"))}
        if name in IN_HEADERS:
            assert got[name]["headers"]["Authorization"].encode("latin-1").decode("utf-8") == "Bearer " + value
    # ...and nothing else holds them.
    assert all(a.status_code == 200 for a in answers)
    assert "[REDACTED]" in answers[0].text
    logs = "".join((log_dir() / f"{n}.log").read_text(errors="replace") for n in ("canary-worker", "canary-daphne"))
    everything = "\n".join([*(a.text for a in answers), *frames, logs, database_text()])
    assert leaks(everything) == []
    assert leaks(database_file_bytes().decode("utf-8", "replace")) == []
    assert leaks(database_file_bytes().decode("latin-1")) == []


@pytest.mark.parametrize("value", list(CANARIES.values()))
def test_the_redactor_finds_every_encoding(value):
    redact = Redactor({value})
    prefix = b"user:"
    samples = [
        value, json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(json.dumps({"k": value})),
        json.dumps(json.dumps(json.dumps([value]), ensure_ascii=False)),
        base64.b64encode(value.encode()).decode(), base64.urlsafe_b64encode(value.encode()).decode(),
        base64.b64encode(prefix + value.encode() + b"!").decode(),  # inside a longer encoded text
        base64.b64encode(b"ab" + value.encode()).decode(),
    ]
    for sample in samples:
        redacted = redact(f"before {sample} after")
        assert "[REDACTED]" in redacted
        assert not leaks(redacted), (sample, redacted)
