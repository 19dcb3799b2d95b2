"""Secrets: encrypted at rest, readable only by the tenant's programs, redacted from everything written."""
import json
import logging

import pytest
from cryptography.fernet import Fernet
from django.apps import apps

from engine import selectors, services
from engine.models import Instance
from tenants import secrets
from tenants.errors import InvalidInput, NotFound

CANARY = 'canary-7f3b9c"SECRET\\value'


@pytest.fixture
def keys(monkeypatch):
    def use(*ks):
        monkeypatch.setenv("SECRETS_KEYS", ",".join(ks))
        secrets.reset_keys()
    yield use
    secrets.reset_keys()


def dump_database() -> str:
    """Every row of every table, as text."""
    return "\n".join(repr(list(m.objects.values_list())) for m in apps.get_models())


def test_a_canary_secret_never_appears_in_plain_text(tenant, clock, make_workflow, drive, keys, caplog):
    keys(Fernet.generate_key().decode())
    secrets.secret_put(tenant=tenant, name="API_KEY", value=CANARY)
    wf = make_workflow("""
    export default async function run(event, step) {
      const key = await step.secret("API_KEY");
      console.log("using", key, { key });
      let echoed;  // a step's result is checkpointed and replayed: a secret in it is refused
      try { await step.do("echo", () => ({ key, nested: JSON.stringify({ key }) })); } catch (e) { echoed = e.name; }
      try { await step.do("boom", { retries: { limit: 0 } }, () => { throw new Error("bad key " + key); }); }
      catch (e) { console.error(e.message); }
      return { key, echoed, length: key.length };
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    with caplog.at_level(logging.DEBUG):
        drive()
    inst = Instance.objects.get(pk=inst.pk)
    assert inst.status == "complete"
    out = json.loads(inst.output)
    assert out["key"] == "[REDACTED]" and out["length"] == len(CANARY)  # the program had the real value
    assert out["echoed"] == "SecretInResultError"
    everything = dump_database() + caplog.text + json.dumps(
        selectors.progress_after(tenant=tenant, instance_id=inst.pk)) + json.dumps(
        selectors.instance_status(tenant=tenant, instance_id=inst.pk), default=str)
    for form in (CANARY, json.dumps(CANARY)[1:-1], "canary-7f3b9c"):
        assert form not in everything
    assert "[REDACTED]" in everything


def test_another_tenant_cannot_read_a_secret(tenant, other_tenant, clock, make_workflow, drive, keys):
    keys(Fernet.generate_key().decode())
    secrets.secret_put(tenant=tenant, name="API_KEY", value="mine")
    wf = make_workflow("""
    export default async function run(event, step) {
      try { return await step.secret("API_KEY"); } catch (e) { return e.name + ": " + e.message; }
    }""", slug="thief", owner=other_tenant)
    inst = services.instance_create(tenant=other_tenant, workflow=wf)
    drive()
    assert json.loads(Instance.objects.get(pk=inst.pk).output) == "SecretNotFoundError: no secret named API_KEY"
    assert secrets.secret_names(tenant=other_tenant) == []
    with pytest.raises(NotFound):
        secrets.secret_delete(tenant=other_tenant, name="API_KEY")


def test_rotation_keeps_every_secret_readable(tenant, keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    keys(old)
    for n in range(5):
        secrets.secret_put(tenant=tenant, name=f"S{n}", value=f"value-{n}")
    keys(new, old)
    assert secrets.secrets_rotate() == 5
    keys(new)  # the old key is gone: everything was re-encrypted under the new one
    assert [secrets.secret_value(tenant_id=tenant.pk, name=f"S{n}") for n in range(5)] == [f"value-{n}" for n in range(5)]
    assert secrets.secret_names(tenant=tenant) == [f"S{n}" for n in range(5)]


def test_bad_secret_input_names_the_field(tenant, keys):
    keys(Fernet.generate_key().decode())
    with pytest.raises(InvalidInput) as e:
        secrets.secret_put(tenant=tenant, name="9 bad", value="x")
    assert e.value.field == "name"
    with pytest.raises(InvalidInput) as e:
        secrets.secret_put(tenant=tenant, name="OK", value="x" * 70000)
    assert e.value.field == "value"
