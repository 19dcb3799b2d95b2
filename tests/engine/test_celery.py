"""Distributed mode: real Celery worker processes over real Redis, on PostgreSQL."""
import json
import os
import sys

import pytest
from django.db import connection

from engine import services
from engine.models import Instance, StepRecord
from tests.processes import start, start_celery_worker, stop, wait_for

pytestmark = [
    pytest.mark.distributed,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)"),
]

PROGRAM = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < 10; i++) total += await step.do(`step_${i}`, () => i * event.payload.n);
  await step.sleep("pause", "1 second");  // woken by the pump, not by a message
  return await step.do("total", () => total);
}"""


def test_celery_workers_run_instances_to_completion(tenant, make_workflow, settings):
    assert connection.vendor == "postgresql", "the distributed suite runs on PostgreSQL"
    settings.ENGINE_DISPATCH = "celery"
    wf = make_workflow(PROGRAM)
    worker = start_celery_worker("celery-worker")
    pump = start([sys.executable, "manage.py", "engine_pump", "--interval", "0.5"], "engine-pump")
    try:
        created = [services.instance_create(tenant=tenant, workflow=wf, params={"n": n}) for n in range(20)]
        wait_for(lambda: Instance.objects.filter(status="complete").count() == 20, timeout=90,
                 what="20 instances to complete through Celery")
    finally:
        stop(worker)
        stop(pump)
    for inst in created:
        inst.refresh_from_db()
        assert json.loads(inst.output) == 45 * inst.params["n"]
    assert StepRecord.objects.filter(status="complete").count() == 20 * 12
