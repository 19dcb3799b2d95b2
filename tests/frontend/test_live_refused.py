"""A refused live view in a real Chromium, against daphne: it says why and does not retry."""
import os
from pathlib import Path

import pytest

from engine import services
from tests.browser import CHROMIUM, chromium_page
from tests.processes import start_daphne, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


def test_a_refused_live_view_says_why_and_connects_once(tenant, other_tenant, make_workflow, settings):
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

    server, port = start_daphne("live-refused-daphne")  # binds a free port itself (no race)
    try:
        with chromium_page() as page:
            base = f"http://127.0.0.1:{port}"
            sign_in(page, base, "eve", "a-long-password")
            # Every socket the page opens, counted in the page itself; and the page's timers on a
            # clock the test moves, so "no retry" is checked against the socket's own backoff.
            page.add_init_script("""(() => {
              const Native = window.WebSocket;
              window.__sockets = [];
              window.WebSocket = class extends Native {
                constructor(...args) { super(...args); window.__sockets.push(String(args[0])); }
              };
            })()""")
            page.clock.install()
            page.goto(f"{base}/editor/i/{theirs.pk}")  # another tenant's instance: 4404, like an unknown one
            page.get_by_role("alert").get_by_text("Live progress refused: not found (or not in this tenant)").wait_for()
            assert page.get_by_label("Connection").inner_text().startswith("refused")
            # Past the longest backoff (at most 5 s): a retry's timer would have fired by now.
            page.clock.run_for(20_000)
            sockets = page.evaluate("window.__sockets")
            assert len(sockets) == 1, sockets
            assert f"/ws/instances/{theirs.pk}/" in sockets[0]
    finally:
        stop(server)
