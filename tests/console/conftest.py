"""Fixtures for the operator console: a staff operator with a client from a known IP, a workflow
the engine really runs, and helpers to post admin actions with their confirmation."""
import pytest
from django.test import Client

from builder.services import version_create_from_code, workflow_create
from tests.accounts import operator_client, person, totp_enroll

from . import capabilities

OPERATOR_IP = "203.0.113.7"

# prepare (logs), gate (fails until the test opens it, no retries), then a 1-hour sleep.
GATED = """
export default async function run(event, step) {
  const a = await step.do("prepare", async () => { console.log("preparing", event.payload && event.payload.n); return 1; });
  const b = await step.do("gate", { retries: { limit: 0 } }, async () => step.gate({}));
  await step.sleep("cool_off", "1 hour");
  return a + b;
}"""

SLEEPER = """
export default async function run(event, step) {
  const a = await step.do("first", async () => 1);
  await step.sleep("nap", "1 hour");
  const b = await step.do("second", async () => 2);
  return a + b;
}"""


@pytest.fixture(autouse=True)
def console_capabilities(settings):
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES, "gate": "tests.console.capabilities.gate"}
    capabilities.GATE["open"] = False
    yield
    capabilities.GATE["open"] = False


@pytest.fixture
def operator(db):
    """A superuser with a TOTP authenticator (its secret as `operator.totp_secret`)."""
    user = person("ops", staff=True)
    user.totp_secret = totp_enroll(user)
    return user


@pytest.fixture
def console(operator):
    """A client signed in as the operator through the real sign-in, password then TOTP code: the
    console opens only to a session that used a second factor."""
    return operator_client(Client(REMOTE_ADDR=OPERATOR_IP), operator)


@pytest.fixture
def workflow_of():
    def make(tenant, program=SLEEPER, slug="wf"):
        wf = workflow_create(tenant=tenant, slug=slug)
        version_create_from_code(workflow=wf, program=program)
        wf.refresh_from_db()
        return wf

    return make


def confirm(client, url, data=None):
    """Post an action as the confirmation page does (confirm=yes)."""
    return client.post(url, {**(data or {}), "confirm": "yes"})


def bulk(client, action: str, ids, confirmed=True):
    """A changelist bulk action: first the action form's post (index=0), then the confirmation's."""
    url = "/admin/engine/instance/"
    data = {"action": action, "_selected_action": [str(i) for i in ids]}
    if not confirmed:
        return client.post(url, {**data, "index": 0})
    return client.post(url, {**data, "confirm": "yes"})
