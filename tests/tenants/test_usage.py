"""Metering: steps, sandbox CPU, HTTP calls and bytes stored, per tenant and day."""
from tenants.models import Usage
from engine import services


def test_usage_is_metered_per_tenant_and_day(tenant, other_tenant, clock, make_workflow, drive, settings):
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES, "ping": "tests.tenants.test_usage.ping"}
    wf = make_workflow("""
    export default async function run(event, step) {
      let x = 0;
      for (let i = 0; i < 3; i++) x += await step.do(`s${i}`, () => { let t = 0; for (let j = 0; j < 1e5; j++) t += j; return i; });
      await step.do("net", () => step.http("http://127.0.0.1:9/").catch(() => "refused"));
      return "x".repeat(100);
    }""")
    services.instance_create(tenant=tenant, workflow=wf)
    drive()
    usage = Usage.objects.get(tenant=tenant, day=clock.now().date())
    assert usage.steps == 4
    assert usage.http_calls == 1
    assert usage.bytes_stored >= 100
    # Three loops of 100,000 additions take milliseconds of sandbox CPU, not zero and not seconds.
    assert 1 <= usage.cpu_ms < 30_000, usage.cpu_ms
    assert not Usage.objects.filter(tenant=other_tenant).exists()


def ping(call):
    return "pong"
