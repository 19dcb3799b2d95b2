"""`manage.py bench deploycheck [--checked 200]`: the cost of the safe-deploy check.

Seeds a tenant with that many instances asleep after two steps, then times the check
(builder.selectors.version_check) of a compatible version and of one that renames a step,
and prints ms per instance; deletes what it made. Reads and writes the configured database.
"""
from __future__ import annotations

import time
import uuid

from builder.selectors import version_check
from builder.services import version_create_from_code, workflow_create
from engine import worker
from engine.models import Instance
from engine.services import instance_create_batch
from tenants.services import tenant_create

PROGRAM = """
export default async function run(event, step) {
  const order = await step.do("fetch", async () => ({ id: event.payload.n }));
  await step.do("charge", async () => order.id * 2);
  await step.sleep("cool_off", "1 day");
  return await step.do("ship", async () => order.id);
}"""
CHANGES = {
    "compatible": PROGRAM.replace('return await step.do("ship", async () => order.id);',
                                  'await step.do("ship", async () => order.id);\n  return await step.do("notify", async () => 1);'),
    "renamed": PROGRAM.replace('"charge"', '"bill"'),
}


def run(*, checked: int, out) -> dict:
    tenant = tenant_create(slug=f"bench-check-{uuid.uuid4().hex[:8]}")
    tenant.limits = {"creations_per_minute": checked * 2, "concurrent_instances": 1000}
    tenant.save()
    try:
        wf = workflow_create(tenant=tenant, slug="orders")
        version_create_from_code(workflow=wf, program=PROGRAM, publish=True)
        wf.refresh_from_db()
        for start in range(0, checked, 100):
            instance_create_batch(tenant=tenant, workflow=wf, items=[{"params": {"n": n}} for n in range(start, min(start + 100, checked))])
        out.write(f"advancing {checked} instances to their sleep...\n")
        worker.run(name="bench-deploycheck", until_idle=True)
        figures: dict = {"instances": checked}
        for name, program in CHANGES.items():
            version = version_create_from_code(workflow=wf, program=program, publish=False)
            began = time.perf_counter()
            report = version_check(tenant=tenant, workflow=wf, version=version)
            seconds = time.perf_counter() - began
            figures[name] = {"checked": report["checked"], "continues": report["in_flight"]["continues"],
                             "diverges": report["in_flight"]["diverges"], "seconds": round(seconds, 2),
                             "ms_per_instance": round(1000 * seconds / max(report["checked"], 1), 1)}
        return figures
    finally:
        Instance.objects.filter(tenant=tenant).delete()
        tenant.delete()
