"""Fixtures shared by every test: two tenants, and an injectable engine clock.

Determinism: hypothesis runs the "ci" profile (derandomized: the same examples every run) unless
HYPOTHESIS_PROFILE=explore asks for random seeds and many more examples (see the README); every
process-wide counter and cache is reset before each test (`process_state`), so a test sees the
same state alone or after any other.
"""
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from builder.services import version_create_from_code, workflow_create
from engine import clock as engine_clock
from tenants.services import tenant_create


hypothesis_settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
hypothesis_settings.register_profile(
    "explore", derandomize=False, deadline=None, max_examples=2000, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(ci: int, explore: int = 2000) -> int:
    """A property test's example count: `ci` in the test command, `explore` when exploring."""
    return max(ci, explore) if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else ci


def pytest_sessionstart(session):
    """A run killed mid-way leaves the SQLite test database's -wal/-shm files beside a deleted
    database; the next run's fresh database would read them ("disk I/O error"). Drop them."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if os.environ.get("MUTANT_UNDER_TEST") and db["ENGINE"].endswith("sqlite3"):
        # mutmut (config/mutants.sh) runs each mutant's tests in a process forked from one that
        # already used the suite's database file: each gets a file of its own, or it would recreate
        # the file under the parent's WAL and every mutant would "fail" with "disk I/O error".
        name = Path(settings.VAR_DIR) / "mutant-dbs" / f"test_db-{os.getpid()}.sqlite3"
        name.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)
        db.setdefault("TEST", {})["NAME"] = str(name)
    name = db.get("TEST", {}).get("NAME")
    if db["ENGINE"].endswith("sqlite3") and name and not Path(name).exists():
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)


@pytest.fixture
def tenant(db):
    return tenant_create(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return tenant_create(slug="globex", name="Globex")


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when


@pytest.fixture
def clock():
    c = Clock()
    engine_clock.set_now(c.now)
    yield c
    engine_clock.set_now(None)


@pytest.fixture
def make_workflow(tenant):
    def make(program: str, slug: str = "wf", owner=None):
        wf = workflow_create(tenant=owner or tenant, slug=slug)
        version_create_from_code(workflow=wf, program=program)
        wf.refresh_from_db()
        return wf

    return make


@pytest.fixture(autouse=True)
def engine_settings(settings):
    """Tests advance instances in-process unless they start workers themselves."""
    from tests.engine import capabilities

    settings.ENGINE_DISPATCH = "embedded"
    # In-process workers (`drive`) run the pump hooks; the ones that compact progress and purge old
    # instances would run every 30-60 s of the machine's time, in the middle of whatever test is
    # driving then (whose clock has moved hours ahead): they run in a test only when it asks for
    # them (`_last_run = None`, see process_state). Worker processes keep the real intervals.
    settings.ENGINE_COMPACT_INTERVAL_SECONDS = settings.ENGINE_RETENTION_INTERVAL_SECONDS = 10**9
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, in tests only
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES, **capabilities.CAPABILITIES}
    return settings


@pytest.fixture
def drive():
    """Advance every due instance in this process until none is due (the clock does not move)."""
    from engine import worker

    return lambda: worker.run(name="test-worker", until_idle=True)


@pytest.fixture(autouse=True)
def empty_cache():
    """Rate-limit counters live in the cache: each test starts without any."""
    from django.core.cache import cache

    from triggers import webhooks

    cache.clear()
    webhooks._targets.clear()
    webhooks._secrets.clear()


@pytest.fixture(autouse=True)
def process_state():
    """Process-wide counters and caches start empty for each test, as in a fresh worker process:
    the heartbeat counters, the program cache and the context pool's figures. The pump hooks that
    compact progress and purge old instances count as just run (see engine_settings)."""
    import time

    from engine import compaction, counters, programs, retention
    from engine.sandbox import POOL

    counters.counters_reset()
    programs.cache_clear()
    POOL.hits = POOL.misses = 0
    compaction._last_run = retention._last_run = time.monotonic()
    yield
    from engine import clock as engine_clock

    engine_clock.set_now(None)


@pytest.hookimpl(trylast=True)  # after any reordering (`-p random_order --random-order` shuffles first)
def pytest_collection_modifyitems(config, items):
    """A test that restarts the shared PostgreSQL server cuts the connections other tests' servers
    and threads hold: it runs after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_database") is not None)
