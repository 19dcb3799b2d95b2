import json
from engine.counters import COUNTERS
from engine.models import Instance, Snapshot
from engine.services import instance_create
from tests.engine.test_replay_properties import run_to_the_end

PROGRAM = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < 5; i++) total += await step.do(`s${i}`, () => i);
  for (let n = 0; n < 4; n++) {
    await step.sleep(`nap${n}`, "1 hour");
    total += await step.do(`after${n}`, () => n);
  }
  return total;
}"""

def test_smoke(tenant, make_workflow, clock, drive, settings):
    settings.ENGINE_SNAPSHOT_MIN_STEPS = 0
    inst = run_to_the_end(tenant, make_workflow, clock, drive, PROGRAM)
    print(COUNTERS)
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output) == 16
    assert COUNTERS.snapshot_resumes == 4
    assert not Snapshot.objects.exists()
