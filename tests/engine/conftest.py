import pytest

from engine import worker

from . import capabilities


@pytest.fixture(autouse=True)
def engine_settings(settings):
    settings.ENGINE_DISPATCH = "embedded"
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES, **capabilities.CAPABILITIES}
    return settings


@pytest.fixture
def side_effects(db):
    capabilities.create_table()
    return capabilities.count


@pytest.fixture
def drive():
    """Advance every due instance in this process until none is due (the clock does not move)."""
    return lambda: worker.run(name="test-worker", until_idle=True)
