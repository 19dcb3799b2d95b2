"""Debian's Chromium driven by Playwright's sync API, for every browser test (never a downloaded
browser: config/test.sh installs the `chromium` package)."""
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


@contextmanager
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the test's ORM calls beside Playwright's event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"])
        try:
            yield browser
        finally:
            browser.close()


# Tests wait on conditions (an element, a status text, a request), never a fixed time; the bound is
# only there so a broken test ends. It is generous because a loaded CI machine can be 5-10x slower.
WAIT_MS = 60000


def new_page(browser, width: int = 1280, height: int = 800, timeout_ms: int = WAIT_MS, **options):
    page = browser.new_page(viewport={"width": width, "height": height}, **options)
    page.set_default_timeout(timeout_ms)
    page.on("pageerror", lambda e: print("page error:", e))  # shown by pytest when the test fails
    return page


@contextmanager
def chromium_page(width: int = 1280, height: int = 800, timeout_ms: int = WAIT_MS):
    with chromium() as browser:
        yield new_page(browser, width, height, timeout_ms)


def sign_in(page, base_url: str, username: str, password: str, *, next: str = "/editor/", totp_secret: str | None = None,
            wait_for: str | None = None) -> None:
    """Sign in through the accounts pages as a person would: name and password, then the code of
    their authenticator when the account has one (computed like an authenticator app does)."""
    from urllib.parse import quote

    page.goto(f"{base_url}/accounts/login/?next={quote(next)}")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    if totp_secret:
        from tests.accounts import totp_code

        page.wait_for_url("**/accounts/2fa/authenticate/")
        page.locator("input[name=code]").fill(totp_code(totp_secret))
        page.locator("main form button[type=submit]").click()
    page.wait_for_url(wait_for or f"**{next}")


def settled(page) -> None:
    """Waits for the page to have rendered what it has (two animation frames: state updates and
    effects of the events already delivered are painted), instead of a fixed time."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))")


def until(page, predicate, timeout: float = 15, what: str = "condition"):
    """Polls a Python-side condition while Playwright delivers events (route handlers, requests);
    bounded, so a regression fails instead of hanging."""
    import time

    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        page.wait_for_timeout(20)
    return value


def release(page, route) -> None:
    """Lets a held request through, waits for its answer, then for the page to render it."""
    request = route.request
    with page.expect_response(lambda r: r.url == request.url and r.request.method == request.method):
        route.continue_()
    settled(page)


def hover_diagnostic(page, scope: str, word: str, message: str, timeout: float = 60) -> None:
    """Hovers the error mark on `word` until its tooltip says `message`. The mark waited for is the
    one on that word: a mark left from the text typed before (the linter runs again after a pause)
    may still be on screen, and a tooltip opened over it closes when the new diagnostics replace it,
    so the hover is repeated (off the mark and back) until the tooltip stays."""
    import time

    mark = page.locator(f"{scope} .cm-lintRange-error", has_text=word).first
    tooltip = page.locator(".cm-tooltip-lint", has_text=message).first
    deadline = time.monotonic() + timeout
    while True:
        mark.wait_for()
        mark.hover()
        try:
            tooltip.wait_for(timeout=5000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"no tooltip saying {message!r} over the mark on {word!r}")
            page.mouse.move(0, 0)
