"""One Chromium per test module for the editor's browser tests (launching it is seconds on a loaded
machine); every test still gets fresh browser contexts (own cookies, storage and HTTP cache), closed
when it ends."""
import pytest

from tests.browser import chromium


@pytest.fixture(scope="module")
def module_chromium():
    from frontend.views import DIST

    assert (DIST / ".vite" / "manifest.json").exists(), "build the editor first (config/test.sh does)"
    with chromium() as browser:
        yield browser
