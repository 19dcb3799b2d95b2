"""How a delivery's answer is made: the respond node's output as an HTTP answer, the `response: wait`
loop, and batched creation when one delivery of a batch fails. (The mutants of these functions that
the end-to-end webhook tests left alive are what these pin.)"""
import asyncio

import pytest
from django.db import transaction

from engine.models import Instance
from triggers import webhooks
from triggers.webhooks import Answer, Delivery

from tests.api.test_webhooks import hook_workflow


def test_a_respond_output_becomes_the_answer_with_its_defaults():
    assert webhooks.answer_of({"body": {"ok": True}}) == Answer(200, {"ok": True}, {})
    assert webhooks.answer_of({"status": "201", "body": "made", "headers": {"x-id": "7"}}) == Answer(201, "made", {"x-id": "7"})
    assert webhooks.answer_of({"status": 204, "headers": None}) == Answer(204, None, {})


def waiting_answer() -> Answer:
    answer = Answer(202, {"instance": "i"}, {})
    answer.wait_for = ("instance", "graph")
    return answer


def run_wait(answer: Answer, replies: list, seconds: float, monkeypatch, settings) -> tuple[Answer, list]:
    """respond_wait with `check` answering `replies` in turn (the last one repeats), on a clock
    that each pause moves one second on (what the wait does does not depend on the machine's speed)."""
    settings.WEBHOOK_WAIT_SECONDS = seconds
    seen = []
    clock = [100.0]

    async def check(*args):
        seen.append(args)
        return replies[min(len(seen), len(replies)) - 1]

    async def one_second():
        clock[0] += 1
        await asyncio.sleep(0)

    monkeypatch.setattr(webhooks, "pause", one_second)
    return asyncio.run(webhooks.respond_wait(answer, check=check, now=lambda: clock[0])), seen


def test_the_wait_answers_with_the_respond_node_once_it_is_there(monkeypatch, settings):
    answer = waiting_answer()
    got, seen = run_wait(answer, [(False, None), (False, None), (True, {"status": 201, "body": "done"})], 60, monkeypatch, settings)
    assert got == Answer(201, "done", {})
    assert seen == [("instance", "graph")] * 3  # checked with what the delivery waits for, until it stopped


def test_an_instance_that_ends_without_responding_answers_202(monkeypatch, settings):
    answer = waiting_answer()
    got, seen = run_wait(answer, [(False, None), (True, None)], 60, monkeypatch, settings)
    assert got is answer and len(seen) == 2


def test_the_wait_gives_up_with_202_after_its_bound(monkeypatch, settings):
    answer = waiting_answer()
    got, seen = run_wait(answer, [(False, None)], 5, monkeypatch, settings)
    assert got is answer and len(seen) == 5  # checked at 0, 1, 2, 3 and 4 seconds; at 5 the bound is reached


@pytest.mark.django_db
def test_respond_check_says_when_to_stop(tenant):
    from engine import worker

    respond = ("answer", "respond", {"status": 201, "body": {"seen": "{{ input.id }}"}})
    hook_workflow(tenant, auth="none", response="wait", slug="sync", extra=[respond])
    answer = webhooks.deliver(Delivery("POST", {"content-type": "application/json"}, {}, b'{"id": 3}'), "acme", "sync")
    assert webhooks.respond_check(*answer.wait_for) == (False, None)  # not run yet
    worker.run(name="w", until_idle=True)
    assert webhooks.respond_check(*answer.wait_for) == (True, {"status": 201, "headers": {}, "body": {"seen": 3}})

    hook_workflow(tenant, auth="none", response="wait", slug="quiet")  # no respond node
    answer = webhooks.deliver(Delivery("POST", {"content-type": "application/json"}, {}, b'{"id": 4}'), "acme", "quiet")
    assert webhooks.respond_check(*answer.wait_for) == (False, None)
    worker.run(name="w", until_idle=True)
    assert webhooks.respond_check(*answer.wait_for) == (True, None)  # ended without an answer


@pytest.mark.django_db
def test_a_failed_batch_is_retried_per_delivery_and_a_broken_one_fails_alone(tenant, monkeypatch):
    """The batch insert fails: each delivery is created on its own; one whose creation breaks gets
    the logged 500, the others their instance, and repeats of a delivery id the same answer."""
    hook_workflow(tenant, auth="none", slug="open")

    def delivery(body: bytes, key: str | None = None) -> webhooks.Admitted:
        headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
        return webhooks.admit(Delivery("POST", headers, {}, body), "acme", "open")

    def batch_fails(**kwargs):
        raise RuntimeError("the batch insert failed")

    create = webhooks.instance_create

    def create_or_break(**kwargs):
        if kwargs["params"]["body"] == {"n": "broken"}:
            raise RuntimeError("this one breaks")
        return create(**kwargs)

    monkeypatch.setattr(webhooks, "instance_create_batch", batch_fails)
    monkeypatch.setattr(webhooks, "instance_create", create_or_break)
    admitted = [delivery(b'{"n": 1}', "k1"), delivery(b'{"n": "broken"}', "kb"), delivery(b'{"n": 1}', "k1"),
                delivery(b'{"n": 2}'), delivery(b'{"n": "broken"}', "kb")]
    with transaction.atomic():
        answers = webhooks.create_admitted(admitted)
    assert [a.status for a in answers] == [202, 500, 202, 202, 500]
    assert answers[0].body["instance"] == answers[2].body["instance"] != answers[3].body["instance"]
    assert answers[1] is webhooks.FAILED
    assert sorted(i.params["body"]["n"] for i in Instance.objects.filter(workflow__slug="open")) == [1, 2]


@pytest.mark.django_db
def test_a_batch_over_one_hundred_creates_every_instance(tenant):
    hook_workflow(tenant, auth="none", slug="open")
    admitted = [webhooks.admit(Delivery("POST", {"content-type": "application/json"}, {}, b'{"n": %d}' % n), "acme", "open")
                for n in range(150)]
    with transaction.atomic():
        answers = webhooks.create_admitted(admitted)
    assert [a.status for a in answers] == [202] * 150
    assert len({a.body["instance"] for a in answers}) == 150
    assert sorted(i.params["body"]["n"] for i in Instance.objects.filter(workflow__slug="open")) == list(range(150))
