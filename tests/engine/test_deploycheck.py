"""The safe-deploy check: 30 instances in flight (sleeping, waiting for an event, paused, errored)
replayed against three kinds of new version; the report is exact for each, and nothing runs."""
from builder.selectors import check_summary, version_check
from builder.services import version_create_from_code
from engine import services
from engine.models import Instance, ProgressEvent, StepRecord
from tests.engine.capabilities import count

V1 = """
import { NonRetryableError } from "cloudflare:workflows";
export default async function run(event, step) {
  const order = await step.do("fetch", async () => ({ id: event.payload.n }));
  if (event.payload.kind === "approve") await step.waitForEvent("approval", { type: "approve", timeout: "2 days" });
  await step.do("charge", async () => {
    if (event.payload.kind === "fail") throw new NonRetryableError("card declined");
    return step.sideEffect({ label: "charge" });
  });
  await step.sleep("cool_off", "1 day");
  return await step.do("ship", async () => order.id);
}"""

COMPATIBLE = V1.replace("return await step.do(\"ship\", async () => order.id);",
                        "const shipped = await step.do(\"ship\", async () => order.id * 10);\n"
                        "  await step.do(\"notify\", async () => shipped);\n  return shipped;")
RENAMED = V1.replace('step.do("charge"', 'step.do("bill"')
INSERTED = V1.replace('  if (event.payload.kind', '  await step.do("fraud_check", async () => true);\n  if (event.payload.kind')


def in_flight(tenant, make_workflow, drive, side_effects):
    wf = make_workflow(V1, slug="orders")
    kinds = {}
    for n in range(30):
        kind = "sleep" if n < 10 else "approve" if n < 20 else "fail" if n < 25 else "paused"
        inst = services.instance_create(tenant=tenant, workflow=wf, id=f"order-{n}",
                                        params={"n": n, "kind": "sleep" if kind == "paused" else kind})
        kinds[inst.key] = kind
    drive()
    for key, kind in kinds.items():
        if kind == "paused":
            services.instance_pause(tenant=tenant, instance_id=Instance.objects.get(workflow=wf, key=key).pk)
    statuses = dict(Instance.objects.filter(workflow=wf).values_list("key", "status"))
    assert sorted(statuses.values()) == sorted(["waiting"] * 20 + ["errored"] * 5 + ["paused"] * 5)
    return wf, kinds


def verdicts(report):
    return {r["key"]: (r["verdict"], r["step"] if r["verdict"] == "diverges" else None, r.get("got")) for r in report["instances"]}


def test_the_check_reports_each_kind_of_change_exactly(tenant, clock, make_workflow, drive, side_effects):
    wf, kinds = in_flight(tenant, make_workflow, drive, side_effects)
    charged = side_effects("charge")
    rows = (StepRecord.objects.count(), ProgressEvent.objects.count())
    before = {i.pk: (i.status, i.version_id, i.due_at) for i in Instance.objects.filter(workflow=wf)}

    compatible = version_create_from_code(workflow=wf, program=COMPATIBLE, publish=False)
    report = version_check(tenant=tenant, workflow=wf, version=compatible)
    assert report["checked"] == 30 and not report["truncated"] and report["versions"] == [1]
    assert report["published"] == 1 and report["version"] == 2
    assert verdicts(report) == {key: ("continues", None, None) for key in kinds}
    assert report["in_flight"] == {"total": 25, "continues": 25, "diverges": 0, "fails": 0, "diverges_at": {}}
    assert report["restartable"] == {"total": 5, "continues": 5, "diverges": 0, "fails": 0, "diverges_at": {}}
    # Errored ones keep what a restart from the failed step keeps: fetch, not the failed charge.
    assert {r["checkpoints"] for r in report["instances"] if kinds[r["key"]] == "fail"} == {1}
    assert {r["checkpoints"] for r in report["instances"] if kinds[r["key"]] == "sleep"} == {3}

    renamed = version_create_from_code(workflow=wf, program=RENAMED, publish=False)
    report = version_check(tenant=tenant, workflow=wf, version=renamed)
    # Sleeping and paused ones charged already: their replay of v3 takes `bill` without `charge`.
    # Those waiting for approval have not reached charge yet: they continue, as do the failed ones.
    expected = {key: ("diverges", "charge", "bill") if kind in ("sleep", "paused") else ("continues", None, None)
                for key, kind in kinds.items()}
    assert verdicts(report) == expected
    assert report["in_flight"] == {"total": 25, "continues": 10, "diverges": 15, "fails": 0, "diverges_at": {"charge": 15}}
    assert report["restartable"]["continues"] == 5
    one = next(r for r in report["instances"] if r["key"] == "order-0")
    assert one["error"]["name"] == "NonDeterminismError"
    assert one["error"]["message"].startswith("step charge is step 2 of this instance's history, but the program now takes do step bill")

    inserted = version_create_from_code(workflow=wf, program=INSERTED, publish=False)
    report = version_check(tenant=tenant, workflow=wf, version=inserted)
    expected = {key: {"sleep": ("diverges", "charge", "fraud_check"), "paused": ("diverges", "charge", "fraud_check"),
                      "approve": ("diverges", "approval", "fraud_check"), "fail": ("continues", None, None)}[kind]
                for key, kind in kinds.items()}
    assert verdicts(report) == expected
    assert report["in_flight"] == {"total": 25, "continues": 0, "diverges": 25, "fails": 0,
                                   "diverges_at": {"approval": 10, "charge": 15}}
    assert report["restartable"] == {"total": 5, "continues": 5, "diverges": 0, "fails": 0, "diverges_at": {}}
    assert check_summary(report) == (
        "25 in-flight instances stay on v1; on v4 their checkpoints would hold for 0, diverge at `approval` for 10, "
        "diverge at `charge` for 15; restarting failed ones on v4 would keep their checkpoints: yes for 5.")

    # Nothing ran and nothing was written: no side effect, no row, every instance as it was.
    assert side_effects("charge") == charged
    assert (StepRecord.objects.count(), ProgressEvent.objects.count()) == rows
    assert {i.pk: (i.status, i.version_id, i.due_at) for i in Instance.objects.filter(workflow=wf)} == before


def test_the_check_runs_no_capability_and_no_step(tenant, clock, make_workflow, drive, side_effects):
    wf, kinds = in_flight(tenant, make_workflow, drive, side_effects)
    # A version whose replay would charge again (a capability at the top level, and in a new step).
    greedy = version_create_from_code(workflow=wf, publish=False, program="""
    export default async function run(event, step) {
      await step.sideEffect({ label: "top" });
      await step.do("fetch", async () => 1);
      return 1;
    }""")
    report = version_check(tenant=tenant, workflow=wf, version=greedy)
    assert {r["verdict"] for r in report["instances"]} == {"fails"}
    assert {r["error"]["name"] for r in report["instances"]} == {"CheckStopped"}
    assert count("top") == 0


def test_a_version_whose_program_throws_on_the_recorded_path_fails_the_check(tenant, clock, make_workflow, drive, side_effects):
    wf, kinds = in_flight(tenant, make_workflow, drive, side_effects)
    broken = version_create_from_code(workflow=wf, publish=False, program=V1.replace(
        'const order =', 'if (event.payload.n % 2) throw new Error("odd orders are refused");\n  const order ='))
    report = version_check(tenant=tenant, workflow=wf, version=broken)
    odd = {r["key"]: r for r in report["instances"] if int(r["key"].split("-")[1]) % 2}
    assert {r["verdict"] for r in odd.values()} == {"fails"}
    assert {r["error"]["message"] for r in odd.values()} == {"odd orders are refused"}


def test_the_replay_runs_under_the_tenants_limits(tenant, clock, make_workflow, drive, side_effects):
    wf, kinds = in_flight(tenant, make_workflow, drive, side_effects)
    tenant.limits = {"advance_time_seconds": 0.5, "sandbox_memory_mb": 32}
    tenant.save()
    spinning = version_create_from_code(workflow=wf, publish=False, program=V1.replace(
        'const order =', 'if (event.payload.n === 0) for (;;) {}\n  if (event.payload.n === 1) { const a = []; for (;;) a.push("x".repeat(1e5)); }\n  const order ='))
    report = version_check(tenant=tenant, workflow=wf, version=spinning)
    by_key = {r["key"]: r for r in report["instances"]}
    assert by_key["order-0"]["verdict"] == "fails" and by_key["order-0"]["error"]["name"] == "TimeoutError"
    assert by_key["order-1"]["verdict"] == "fails" and by_key["order-1"]["error"]["name"] in ("MemoryLimitError", "TimeoutError")
    assert {r["verdict"] for k, r in by_key.items() if k not in ("order-0", "order-1")} <= {"continues"}
