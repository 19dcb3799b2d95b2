"""Host capabilities made for tests: side effects a test can count, in a table of their own."""
import time

from django.db import connection, transaction

TABLE = "test_side_effects"


def create_table() -> None:
    with connection.cursor() as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (label VARCHAR(100), instance VARCHAR(64))")
        c.execute(f"DELETE FROM {TABLE}")


def count(label: str) -> int:
    with connection.cursor() as c:
        c.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE label = %s", [label])
        return c.fetchone()[0]


def side_effect(call):
    """Insert a row (committed at once), then optionally hold the step for `sleep` seconds."""
    with transaction.atomic():
        with connection.cursor() as c:
            c.execute(f"INSERT INTO {TABLE} (label, instance) VALUES (%s, %s)", [call.args["label"], str(call.instance.pk)])
    if call.args.get("sleep"):
        time.sleep(call.args["sleep"])
    if call.args.get("sleep_first") and count(call.args["label"]) == 1:  # only the first time this label runs
        time.sleep(call.args["sleep_first"])
    if call.args.get("until_taken_over"):
        # Hold the step until another worker has taken the instance over (its lease expired).
        from engine.models import Instance

        deadline = time.monotonic() + 60
        while not Instance.objects.filter(pk=call.instance.pk).exclude(lease_owner=call.instance.lease_owner).exists():
            if time.monotonic() > deadline:
                raise AssertionError("no other worker took the instance over in 60 s")
            time.sleep(0.05)
    return {"done": call.args["label"]}


SPANS = "test_spans"


def spans_table() -> None:
    with connection.cursor() as c:
        c.execute(f"CREATE TABLE IF NOT EXISTS {SPANS} (label VARCHAR(100), instance VARCHAR(64), began DOUBLE PRECISION, ended DOUBLE PRECISION)")
        c.execute(f"DELETE FROM {SPANS}")


def peak_overlap(label: str) -> tuple[int, int]:
    """(spans recorded, most of them that overlapped at any moment)."""
    with connection.cursor() as c:
        c.execute(f"SELECT began, ended FROM {SPANS} WHERE label = %s", [label])
        spans = c.fetchall()
    return len(spans), max((sum(1 for b, e in spans if b <= began < e) for began, _ in spans), default=0)


def span(call):
    """Hold the step for `sleep` seconds and record when it began and ended (wall clock: the
    workers of a test share one machine), so a test can see how many steps ran at once."""
    began = time.time()
    time.sleep(call.args.get("sleep", 0))
    with transaction.atomic():
        with connection.cursor() as c:
            c.execute(f"INSERT INTO {SPANS} (label, instance, began, ended) VALUES (%s, %s, %s, %s)",
                      [call.args["label"], str(call.instance.pk), began, time.time()])
    return True


def pause_me(call):
    from engine.services import instance_pause

    instance_pause(tenant=call.tenant, instance_id=call.instance.pk)
    return True


def steal_lease(call):
    """Another worker takes the instance over (as after an expired lease) while this step runs."""
    from datetime import timedelta

    from engine import clock
    from engine.models import Instance

    Instance.objects.filter(pk=call.instance.pk).update(lease_owner="thief", due_at=clock.now() + timedelta(minutes=1))
    return True


CAPABILITIES = {
    "stealLease": "tests.engine.capabilities.steal_lease",
    "sideEffect": "tests.engine.capabilities.side_effect",
    "pauseMe": "tests.engine.capabilities.pause_me",
    "span": "tests.engine.capabilities.span",
}


def record_hook_pid(*, now) -> None:
    """A pump hook for tests: appends the calling process's pid to VAR_DIR/hook-pids."""
    import os

    from django.conf import settings

    with open(os.path.join(settings.VAR_DIR, "hook-pids"), "a") as f:
        f.write(f"{os.getpid()}\n")
