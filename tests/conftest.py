"""Fixtures shared by every test: two tenants, and an injectable engine clock."""
from datetime import datetime, timedelta, timezone

import pytest

from builder.services import version_create_from_code, workflow_create
from engine import clock as engine_clock
from tenants.services import tenant_create


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

    from builder import webhooks

    cache.clear()
    webhooks._targets.clear()
    webhooks._secrets.clear()
