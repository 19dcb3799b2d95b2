"""Golden tests: a graph per node type compiles and runs through the real engine to the expected output."""
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.test import Client

from triggers.approvals import approval_links
from builder.models import Schedule
from triggers.schedules import schedules_fire
from engine import selectors
from engine.models import Instance, StepRecord

from .helpers import graph, publish, result, start

TRIGGER = ("start", "manual", {})


def test_code_and_transform_with_expressions(tenant, clock, drive):
    g = graph([TRIGGER,
               ("double", "code", {"code": "return input.n * 2;"}),
               ("shape", "transform", {"fields": [
                   {"key": "text", "value": "n={{ event.payload.n }} doubled={{ input }}"},
                   {"key": "raw", "value": "{{ steps.double + 1 }}"},
                   {"key": "list", "value": "{{ [input, input] }}"},
                   {"key": "const", "value": 7}]})],
              [("start", "double"), ("double", "shape")])
    inst = start(tenant, publish(tenant, g), {"n": 21})
    drive()
    assert result(inst) == ("complete", {"text": "n=21 doubled=42", "raw": 43, "list": [42, 42], "const": 7})
    names = list(StepRecord.objects.filter(instance=inst).values_list("name", flat=True))
    assert names == ["double", "shape"]  # node ids are step names


def test_branch_takes_one_handle(tenant, clock, drive):
    g = graph([TRIGGER, ("check", "branch", {"condition": "{{ input.total > 100 }}"}),
               ("big", "transform", {"fields": [{"key": "size", "value": "big"}]}),
               ("small", "transform", {"fields": [{"key": "size", "value": "small"}]})],
              [("start", "check"), ("check", "big", "true"), ("check", "small", "false")])
    wf = publish(tenant, g)
    a, b = start(tenant, wf, {"total": 150}), start(tenant, wf, {"total": 5})
    drive()
    assert result(a) == ("complete", {"big": {"size": "big"}})  # only the taken branch ends the flow
    assert result(b) == ("complete", {"small": {"size": "small"}})


def test_switch_picks_the_first_matching_case_or_default(tenant, clock, drive):
    g = graph([TRIGGER, ("route", "switch", {"cases": [{"id": "eu", "condition": "{{ input.region === 'eu' }}"},
                                                       {"id": "us", "condition": "{{ input.region === 'us' }}"}]}),
               ("eu_", "code", {"code": "return 'eu';"}), ("us_", "code", {"code": "return 'us';"}),
               ("other", "code", {"code": "return 'other';"})],
              [("start", "route"), ("route", "eu_", "eu"), ("route", "us_", "us"), ("route", "other", "default")])
    wf = publish(tenant, g)
    runs = {r: start(tenant, wf, {"region": r}) for r in ("eu", "us", "apac")}
    drive()
    assert {r: result(i)[1] for r, i in runs.items()} == {"eu": {"eu_": "eu"}, "us": {"us_": "us"}, "apac": {"other": "other"}}


def test_fan_out_runs_branches_in_parallel_and_merge_waits_for_all(tenant, clock, drive):
    g = graph([TRIGGER, ("a", "sleep", {"duration": "1 hour"}), ("b", "code", {"code": "return 'b';"}),
               ("join", "merge", {}), ("after", "code", {"code": "return Object.keys(input).sort();"})],
              [("start", "a"), ("start", "b"), ("a", "join"), ("b", "join"), ("join", "after")])
    inst = start(tenant, publish(tenant, g), {"x": 1})
    drive()
    assert StepRecord.objects.get(instance=inst, name="b").status == "complete"  # ran while a slept
    assert result(inst)[0] == "waiting"
    clock.advance(hours=1)
    drive()
    assert result(inst) == ("complete", ["a", "b"])


def test_merge_after_a_branch_waits_only_for_the_taken_side(tenant, clock, drive):
    g = graph([TRIGGER, ("check", "branch", {"condition": "{{ input.ok }}"}),
               ("yes", "code", {"code": "return 'yes';"}), ("no", "code", {"code": "return 'no';"}),
               ("join", "merge", {})],
              [("start", "check"), ("check", "yes", "true"), ("check", "no", "false"), ("yes", "join"), ("no", "join")])
    inst = start(tenant, publish(tenant, g), {"ok": True})
    drive()
    assert result(inst) == ("complete", {"yes": "yes"})


def test_loop_with_concurrency_3_over_10_items(tenant, clock, drive):
    g = graph([TRIGGER, ("each", "loop", {"items": "{{ input.items }}", "concurrency": 3}),
               ("square", "code", {"code": "return item * item + index / 100;"}),
               ("total", "code", {"code": "return input.reduce((a, b) => a + b, 0);"})],
              [("start", "each"), ("each", "square", "body"), ("each", "total", "done")])
    inst = start(tenant, publish(tenant, g), {"items": list(range(10))})
    drive()
    assert result(inst) == ("complete", sum(i * i + i / 100 for i in range(10)))
    names = set(StepRecord.objects.filter(instance=inst).values_list("name", flat=True))
    assert names == {f"square[{i}]" for i in range(10)} | {"total"}


def test_sleep_and_sleep_until_on_an_injected_clock(tenant, clock, drive):
    g = graph([TRIGGER, ("nap", "sleep", {"duration": "2 days"}),
               ("until", "sleep_until", {"until": "{{ new Date(Date.now() + 3600000).toISOString() }}"}),
               ("done", "code", {"code": "return 'rested';"})],
              [("start", "nap"), ("nap", "until"), ("until", "done")])
    inst = start(tenant, publish(tenant, g))
    drive()
    clock.advance(days=2)
    drive()
    assert Instance.objects.get(pk=inst.pk).due_at == clock.now() + timedelta(hours=1)
    clock.advance(hours=1)
    drive()
    assert result(inst) == ("complete", "rested")


def test_wait_event_with_a_match_on_the_payload(tenant, clock, drive):
    from engine.services import event_send

    g = graph([TRIGGER, ("paid", "wait_event", {"type": "payment", "timeout": "1 day",
                                                 "match": "{{ payload.order === input.order }}"})],
              [("start", "paid")])
    inst = start(tenant, publish(tenant, g), {"order": 7})
    drive()
    event_send(tenant=tenant, instance_id=inst.pk, type="payment", payload={"order": 6})
    drive()
    assert result(inst)[0] == "waiting"
    event_send(tenant=tenant, instance_id=inst.pk, type="payment", payload={"order": 7, "amount": 10})
    drive()
    status, out = result(inst)
    assert status == "complete" and out["payload"] == {"order": 7, "amount": 10}


def test_approval_through_its_signed_link(tenant, clock, drive):
    g = graph([TRIGGER, ("manager", "approval", {"timeout": "3 days"}),
               ("ship", "code", {"code": "return 'shipped';"}), ("refuse", "code", {"code": "return 'refused';"})],
              [("start", "manager"), ("manager", "ship", "approved"), ("manager", "refuse", "rejected")])
    inst = start(tenant, publish(tenant, g))
    drive()
    links = approval_links(instance=inst, step="manager")
    client = Client()
    page = client.get(links["approve"])
    assert page.status_code == 200 and b"Approve" in page.content
    assert client.post(links["approve"]).status_code == 200
    drive()
    assert result(inst) == ("complete", {"ship": "shipped"})
    assert client.get(links["approve"][:-5] + "xxxx/").status_code == 404  # a forged token


def test_approval_timeout_takes_the_default_decision(tenant, clock, drive):
    g = graph([TRIGGER, ("manager", "approval", {"timeout": "1 hour", "default_decision": "approve"}),
               ("ship", "code", {"code": "return input;"})],
              [("start", "manager"), ("manager", "ship", "approved")])
    inst = start(tenant, publish(tenant, g))
    drive()
    clock.advance(hours=1)
    drive()
    assert result(inst) == ("complete", {"decision": "approve", "timedOut": True})


def test_subworkflow_waits_for_the_child_result(tenant, clock, drive):
    child = graph([TRIGGER, ("nap", "sleep", {"duration": "1 minute"}), ("triple", "code", {"code": "return event.payload.n * 3;"})],
                  [("start", "nap"), ("nap", "triple")])
    publish(tenant, child, slug="child")
    parent = graph([TRIGGER, ("sub", "subworkflow", {"workflow": "child", "params": "{{ input }}"}),
                    ("fire", "subworkflow", {"workflow": "child", "params": {"n": 1}, "wait": False}),
                    ("after", "code", {"code": "return steps.sub + 1;"})],
                   [("start", "sub"), ("start", "fire"), ("sub", "after")])
    inst = start(tenant, publish(tenant, parent, slug="parent"), {"n": 5})
    drive()
    assert Instance.objects.filter(parent=inst).count() == 2
    clock.advance(minutes=1)
    drive()
    status, out = result(inst)
    assert status == "complete" and out["after"] == 16
    assert set(out["fire"]) == {"id", "key", "workflow"}


def test_respond_and_fail_nodes(tenant, clock, drive):
    g = graph([("hook", "webhook", {"auth": "none"}),
               ("answer", "respond", {"status": 201, "body": {"got": "{{ input.body }}"}}),
               ("stop", "fail", {"message": "refused {{ event.payload.body }}"})],
              [("hook", "answer"), ("answer", "stop")])
    inst = start(tenant, publish(tenant, g), {"body": "hi"})
    drive()
    status, error = result(inst)
    assert status == "errored" and error == {"name": "NonRetryableError", "message": "refused hi"}
    answer = StepRecord.objects.get(instance=inst, name="answer")
    assert json.loads(answer.output) == {"status": 201, "headers": {}, "body": {"got": "hi"}}


def test_http_node_through_the_engine_capability(tenant, clock, drive, settings):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"path": self.path}).encode())

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    try:
        g = graph([TRIGGER, ("fetch", "http", {"url": f"http://127.0.0.1:{srv.server_port}/orders/{{{{ input.id }}}}"}),
                   ("pick", "code", {"code": "return input.json.path;"})],
                  [("start", "fetch"), ("fetch", "pick")])
        inst = start(tenant, publish(tenant, g), {"id": 42})
        drive()
        assert result(inst) == ("complete", "/orders/42")
    finally:
        srv.shutdown()


def test_schedule_fires_on_its_cron_without_double_fires(tenant, clock, drive):
    g = graph([("tick", "schedule", {"cron": "*/15 * * * *", "timezone": "Europe/Paris", "overlap": "skip"}),
               ("work", "sleep", {"duration": "20 minutes"})], [("tick", "work")])
    wf = publish(tenant, g)
    schedule = Schedule.objects.get(workflow=wf)
    assert schedule.next_at == clock.now() + timedelta(minutes=15)
    clock.advance(minutes=15)
    assert schedules_fire() == 1
    assert schedules_fire() == 0  # a second pump finds the slot taken
    drive()
    clock.advance(minutes=15)
    assert schedules_fire() == 0  # overlap "skip": the 00:15 run still sleeps
    clock.advance(minutes=5)
    drive()  # 00:35: the 00:15 run wakes and completes
    clock.advance(minutes=10)
    drive()  # 00:45: idle workers fire due slots too (they run the pump hooks)
    params = list(Instance.objects.filter(workflow=wf).order_by("created_at").values_list("params", flat=True))
    assert [p["scheduledAt"] for p in params] == ["2026-01-01T01:15:00+01:00", "2026-01-01T01:45:00+01:00"]


def test_progress_and_history_speak_node_ids(tenant, clock, drive):
    g = graph([TRIGGER, ("first", "code", {"code": "console.log('hi'); return 1;"})], [("start", "first")])
    inst = start(tenant, publish(tenant, g))
    drive()
    steps = {e["step"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["step"]}
    assert steps == {"first"}


def test_a_subworkflow_cannot_start_another_tenants_workflow(tenant, other_tenant, clock, drive):
    publish(tenant, graph([TRIGGER, ("x", "code", {"code": "return 1;"})], [("start", "x")]), slug="private")
    thief = graph([TRIGGER, ("sub", "subworkflow", {"workflow": "private", "retries": {"limit": 0}})], [("start", "sub")])
    inst = start(other_tenant, publish(other_tenant, thief, slug="thief"))
    drive()
    status, error = result(inst)
    assert status == "errored" and error["name"] == "WorkflowNotFoundError"
    assert not Instance.objects.filter(tenant=tenant).exists()
