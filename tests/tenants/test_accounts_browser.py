"""Accounts in Debian's Chromium against a live server: sign up (a weak password refused with its
reason), verify the address from the mail, become an operator, set up TOTP when the console asks,
reach the console, then sign in again with a code; and an operator with a WebAuthn security key
(Chromium's virtual authenticator). Screenshots of each accounts page land in
var/screenshots/accounts-*.png."""
import os
import re

import pytest
from django.contrib.auth.models import User
from django.core import mail

from allauth.mfa.models import Authenticator

from tenants.models import AuditEntry, Membership
from tests.accounts import totp_code
from tests.browser import SHOTS, chromium_page
from tests.tenants.test_accounts import FakeTime

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]

PASSWORD = "correct-horse-battery"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"accounts-{name}.png"), full_page=True)


def submit(page) -> None:
    page.locator("main form button[type=submit]").first.click()


def test_sign_up_verify_set_up_totp_and_open_the_console(live_server, monkeypatch):
    from allauth.mfa.totp.internal import auth

    clock = FakeTime()  # the server thread's TOTP clock: the second sign-in is a period later
    monkeypatch.setattr(auth, "time", clock)
    url = live_server.url
    with chromium_page(1280, 860) as page:
        page.goto(f"{url}/accounts/signup/")
        page.locator("input[name=username]").fill("rosa")
        page.locator("input[name=email]").fill("rosa@example.com")
        page.locator("input[name=password1]").fill("password")
        page.locator("input[name=password2]").fill("password")
        page.locator("input[name=tenant]").fill("rosa-labs")
        page.locator("input[name=tenant_name]").fill("Rosa Labs")
        shot(page, "signup")
        submit(page)
        page.locator(".errorlist", has_text="This password is too common.").wait_for()
        shot(page, "signup-weak-password")
        page.locator("input[name=password1]").fill(PASSWORD)
        page.locator("input[name=password2]").fill(PASSWORD)
        submit(page)
        page.wait_for_url("**/accounts/confirm-email/")
        shot(page, "verify-sent")

        link = re.search(r"(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
        assert mail.outbox[-1].to == ["rosa@example.com"]
        page.goto(url + link)
        shot(page, "verify-confirm")
        submit(page)
        page.wait_for_url(f"{url}/editor/")  # a verified sign-up lands on the editor (LOGIN_REDIRECT_URL)
        rosa = User.objects.get(username="rosa")
        assert Membership.objects.get(user=rosa).tenant.slug == "rosa-labs"

        # An operator makes rosa one (in the console); the console then asks for a second factor.
        User.objects.filter(pk=rosa.pk).update(is_staff=True, is_superuser=True)
        page.goto(f"{url}/admin/")
        page.wait_for_url("**/accounts/reauthenticate/**")  # allauth: the password again before adding a factor
        page.locator("input[name=password]").fill(PASSWORD)
        shot(page, "reauthenticate")
        submit(page)
        page.wait_for_url("**/accounts/2fa/totp/activate/**")
        secret = page.locator("#authenticator_secret").input_value()
        assert page.locator("main img[src^='data:image/svg+xml']").count() == 1  # the QR code
        page.locator("input[name=code]").fill(totp_code(secret, clock.now))
        shot(page, "totp-setup")
        submit(page)
        page.wait_for_url("**/accounts/2fa/recovery-codes/")
        shot(page, "recovery-codes")
        page.get_by_role("link", name="Continue to where you were going").click()
        page.wait_for_url(f"{url}/admin/")
        page.locator("#health-dashboard").wait_for()
        shot(page, "console")
        assert AuditEntry.objects.filter(action="mfa.activate", actor="rosa").exists()

        # Next time: password, then the authenticator's code.
        page.goto(f"{url}/")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/accounts/login/")
        # Someone guessing at an unknown name: refused alike, then locked out (429) like a real account.
        for _ in range(6):
            page.locator("input[name=login]").fill("not-an-account")
            page.locator("input[name=password]").fill("guess")
            with page.expect_navigation() as answer:
                submit(page)
        assert answer.value.status == 429
        page.locator(".errorlist", has_text="Too many failed login attempts. Try again later.").wait_for()
        shot(page, "locked-out")
        page.goto(f"{url}/admin/")
        page.wait_for_url("**/accounts/login/?next=%2Fadmin%2F")
        page.locator("input[name=login]").fill("rosa@example.com")  # a name or the address
        page.locator("input[name=password]").fill(PASSWORD)
        shot(page, "login")
        submit(page)
        page.wait_for_url("**/accounts/2fa/authenticate/")
        clock.advance(30)
        page.locator("input[name=code]").fill(totp_code(secret, clock.now))
        shot(page, "totp-code")
        submit(page)
        page.wait_for_url(f"{url}/admin/")
        page.locator("#health-dashboard").wait_for()


def test_an_operator_with_a_security_key_webauthn(live_server, settings):
    """WebAuthn through Chromium's virtual authenticator (DevTools protocol): an operator adds a
    security key instead of an app; the console then asks for the key, and so does the next sign-in."""
    from tests.accounts import person
    from tests.browser import sign_in

    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # the live server is http://localhost
    person("kim", PASSWORD, staff=True)
    url = live_server.url
    assert url.startswith("http://localhost:")
    with chromium_page(1280, 860) as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True}})
        sign_in(page, url, "kim", PASSWORD, next="/accounts/2fa/webauthn/add/", wait_for="**/accounts/reauthenticate/**")
        page.locator("input[name=password]").fill(PASSWORD)
        submit(page)
        page.wait_for_url("**/accounts/2fa/webauthn/add/")
        page.locator("input[name=name]").fill("desk key")
        shot(page, "webauthn-add")
        page.locator("#mfa_webauthn_add").click()
        page.wait_for_url("**/accounts/2fa/recovery-codes/")
        key = Authenticator.objects.get(user__username="kim", type="webauthn")
        assert key.wrap().name == "desk key"
        # This session signed in with a password only: the console asks for the key.
        page.goto(f"{url}/admin/")
        page.wait_for_url("**/accounts/2fa/webauthn/reauthenticate/**")
        shot(page, "webauthn-reauthenticate")
        submit(page)
        page.wait_for_url(f"{url}/admin/")
        page.locator("#health-dashboard").wait_for()
        # Signing in again: password, then the key.
        page.goto(f"{url}/")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/accounts/login/")
        sign_in(page, url, "kim", PASSWORD, next="/admin/", wait_for="**/accounts/2fa/authenticate/**")
        shot(page, "webauthn-authenticate")
        page.locator("main button", has_text="security key").first.click()
        page.wait_for_url(f"{url}/admin/")
        page.locator("#health-dashboard").wait_for()
