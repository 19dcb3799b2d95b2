"""A refused live view in a real Chromium, against daphne: it says why and does not retry."""
import os
import sys
from pathlib import Path

import pytest

from engine import services
from tests.browser import CHROMIUM, chromium_page
from tests.processes import start, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


def test_a_refused_live_view_says_why_and_connects_once(tenant, other_tenant, make_workflow, settings):
    import socket

    from frontend.views import DIST
    from tenants.models import Membership
    from tests.accounts import person
    from tests.browser import sign_in

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    wait_for(lambda: (DIST / ".vite" / "manifest.json").exists(), timeout=120, what="the built editor (config/test.sh builds it)")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # daphne checks with the default
    Membership.objects.create(user=person("eve"), tenant=tenant, role="owner")
    theirs = services.instance_create(tenant=other_tenant, workflow=make_workflow(
        "export default async function run(e, step) { await step.sleep('nap', '1 day'); }", owner=other_tenant))

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start([sys.executable, "-m", "daphne", "-p", str(port), "config.asgi:application"], "live-refused-daphne")
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(up, timeout=30, what="daphne to listen")
        with chromium_page() as page:
            base = f"http://127.0.0.1:{port}"
            sign_in(page, base, "eve", "a-long-password")
            sockets, closes = [], []
            page.on("websocket", lambda ws: (sockets.append(ws.url), ws.on("close", lambda _: closes.append(ws.url))))
            page.goto(f"{base}/editor/i/{theirs.pk}")  # another tenant's instance: 4404, like an unknown one
            page.get_by_role("alert").get_by_text("Live progress refused: not found (or not in this tenant)").wait_for()
            assert page.get_by_label("Connection").inner_text().startswith("refused")
            wait_for(lambda: closes, timeout=10, what="the socket to close")
            # A retry would come within the first backoff (at most 250 ms): give it six times that.
            page.wait_for_timeout(1500)
            assert len(sockets) == 1, sockets
            assert f"/ws/instances/{theirs.pk}/" in sockets[0]
    finally:
        stop(server)
