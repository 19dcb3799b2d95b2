"""Concurrent capability calls change when requests are made, never what the instance records: a
generated program (HTTP steps in Promise.all and alone, a step with two calls, pure steps, sleeps,
failures caught) run with calls overlapping (http_concurrency 10) and one at a time (1) ends with
the same output and the same step rows, every request made exactly once, each with its own
Idempotency-Key. The "every batch" mode commits after each command and replays from the
database after every step."""
import collections
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine import runner
from engine.models import Instance, StepRecord
from engine.services import instance_create
from tests.conftest import examples

NAMES = st.sampled_from(["a", "b"])
BLOCKS = st.one_of(
    st.tuples(st.just("http"), NAMES),
    st.tuples(st.just("all"), st.lists(NAMES, min_size=1, max_size=4)),
    st.tuples(st.just("two"), NAMES),  # one step, two calls, the second after an await
    st.tuples(st.just("mixed"), NAMES),  # an HTTP step beside a pure one and a refused call
    st.tuples(st.just("sleep"),),
)
_slugs = itertools.count()


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (path, Idempotency-Key)


@pytest.fixture(scope="module")
def echo():
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            with recorder.lock:
                recorder.requests.append((self.path, self.headers.get("Idempotency-Key")))
            body = json.dumps({"path": self.path}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield recorder, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    srv.server_close()


def program_of(blocks, url: str) -> str:
    get = lambda path: f'step.http({{ url: "{url}/" + event.payload.tag + "/{path}" }}).then((r) => r.json.path)'  # noqa: E731
    lines = []
    for n, block in enumerate(blocks):
        kind = block[0]
        if kind == "http":
            lines.append(f'out.push(await step.do("{block[1]}", () => {get(f"h{n}")}));')
        elif kind == "all":
            calls = ", ".join(f'step.do("{name}", () => {get(f"h{n}.{i}")})' for i, name in enumerate(block[1]))
            lines.append(f"out.push(...(await Promise.all([{calls}])));")
        elif kind == "two":
            lines.append(f'out.push(await step.do("{block[1]}", async () => (await {get(f"h{n}.x")}) + (await {get(f"h{n}.y")})));')
        elif kind == "mixed":
            lines.append(
                f'out.push(...(await Promise.allSettled([step.do("{block[1]}", () => {get(f"h{n}")}), '
                f'step.do("p", () => "pure{n}"), step.do("r", {{ retries: {{ limit: 0 }} }}, () => step.http("http://169.254.169.254/"))]))'
                '.map((r) => r.status === "fulfilled" ? r.value : r.reason.name));')
        else:
            lines.append('await step.sleep("s", "1 minute");')
    body = "\n  ".join(lines)
    return f"export default async function run(event, step) {{\n  const out = [];\n  {body}\n  return out;\n}}"


def run_to_the_end(tenant, make_workflow, clock, drive, program: str, tag: str) -> Instance:
    inst = instance_create(tenant=tenant, workflow=make_workflow(program, slug=f"conc-{next(_slugs)}"), params={"tag": tag})
    for _ in range(100):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        clock.set(inst.due_at)
    raise AssertionError("the instance did not finish in 100 rounds")


def rows(inst: Instance) -> list[tuple]:
    return sorted(StepRecord.objects.filter(instance=inst).values_list("name", "occurrence", "kind", "status", "attempts", "output"))


@hypothesis_settings(max_examples=examples(20, explore=300))
@given(blocks=st.lists(BLOCKS, min_size=1, max_size=5), every_batch=st.booleans())
def test_overlapping_calls_record_what_calls_one_at_a_time_record(tenant, make_workflow, clock, drive, settings, echo,
                                                                  blocks, every_batch):
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    recorder, url = echo
    program = program_of(blocks, url)
    patches = [mock.patch.object(runner, "FLUSH_EVERY", 1), mock.patch.object(runner, "SLICE_SECONDS", -1)] if every_batch else []
    results = {}
    for concurrency in (10, 1):
        tenant.limits = {"http_concurrency": concurrency}
        tenant.save()
        tag = f"t{next(_slugs)}"
        for patch in patches:
            patch.start()
        try:
            inst = run_to_the_end(tenant, make_workflow, clock, drive, program, tag)
        finally:
            for patch in patches:
                patch.stop()
        assert inst.status == "complete", (inst.error, program)
        mine = [(path, key) for path, key in recorder.requests if path.startswith(f"/{tag}/")]
        paths = collections.Counter(path for path, _ in mine)
        assert all(count == 1 for count in paths.values()), (paths, program)  # no request made twice
        assert len({key for _, key in mine}) == len(mine) and all(key for _, key in mine)
        output = json.loads(inst.output.replace(f"/{tag}/", "/"))
        results[concurrency] = (output, [r[:5] + ((r[5] or "").replace(f"/{tag}/", "/"),) for r in rows(inst)],
                                sorted(p.replace(f"/{tag}/", "/") for p in paths))
    assert results[10] == results[1], program
