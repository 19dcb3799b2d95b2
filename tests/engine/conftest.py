import pytest

from . import capabilities


@pytest.fixture
def side_effects(db):
    capabilities.create_table()
    return capabilities.count
