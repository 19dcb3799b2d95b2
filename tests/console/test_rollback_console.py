"""The console's terminate with rollback: asks first, runs the instance's rollbacks through the
engine, then shows the rollback phase and each rollback on the instance's page."""
from engine import services
from engine.models import Instance
from tenants.models import AuditEntry

from .conftest import confirm
from .test_admin import text

SAGA = """
export default async function run(event, step) {
  await step.do("book", async () => ({ booking: "b-7" }),
                { rollback: async ({ output }) => { console.log("cancelled " + output.booking); } });
  await step.sleep("nap", "1 hour");
}"""


def test_terminate_with_rollback_from_the_console(console, tenant, workflow_of, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant, SAGA))
    drive()
    base = f"/admin/engine/instance/{inst.pk}"
    page = text(console.get(f"{base}/change/"))
    assert f"{base}/terminate-rollback/" in page
    asked = text(console.get(f"{base}/terminate-rollback/"))
    assert "Terminate with rollback" in asked and "rollback handlers" in asked
    assert Instance.objects.get(pk=inst.pk).status == "waiting"  # asking changed nothing
    assert confirm(console, f"{base}/terminate-rollback/").status_code == 302
    assert Instance.objects.get(pk=inst.pk).rollback["reason"] == "terminate"
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "terminated"
    page = text(console.get(f"{base}/change/"))
    assert "rollback of book" in page and "cancelled b-7" in page and "&quot;terminate&quot;" in page
    assert AuditEntry.objects.filter(action="instance.terminate_rollback", target=str(inst.pk)).count() == 1
