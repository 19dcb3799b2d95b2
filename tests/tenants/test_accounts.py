"""Accounts (django-allauth, tenants.accounts): password rules, throttled and audited sign-in,
second factors for operators, mail-based verification and reset, the demo user, invitations.

Time is injected: allauth's rate limits and TOTP read `time.time()` in their modules, which the
`allauth_clock` fixture replaces; nothing sleeps."""
import re

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from tenants.models import AuditEntry, Invitation, Membership
from tests.accounts import PASSWORD, operator_client, person, sign_in, totp_code, totp_enroll

ADDRESS = "198.51.100.9"
CONSOLE_PAGES = ["/admin/", "/admin/tenants/tenant/", "/admin/engine/instance/", "/admin/tenants/auditentry/",
                 "/admin/auth/user/", "/admin/builder/workflow/", "/metrics"]


class FakeTime:
    """Stands in for the `time` module inside allauth's rate limit and TOTP code."""

    def __init__(self):
        import time

        self.now = time.time()
        self.monotonic = time.monotonic
        self.sleep = time.sleep

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def allauth_clock(monkeypatch):
    from allauth.core.internal import ratelimit
    from allauth.mfa.totp.internal import auth

    clock = FakeTime()
    monkeypatch.setattr(ratelimit, "time", clock)
    monkeypatch.setattr(auth, "time", clock)
    return clock


def error_text(response) -> str:
    """The form's messages, as a person reads them (the page without markup)."""
    html = response.content.decode()
    found = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", f) for f in found).strip()


def signup(client, username, password, email=None, tenant="new-co", **extra):
    return client.post("/accounts/signup/", {"username": username, "email": email or f"{username}@example.com",
                                             "password1": password, "password2": password, "tenant": tenant, **extra})


def link_in(mail, path: str) -> str:
    return re.search(rf"http://testserver({path}\S+)", mail.body).group(1)


# --- Passwords -----------------------------------------------------------------------------------

@pytest.mark.parametrize("username, password, reason", [
    ("bo", "password", "This password is too common."),
    ("bo", "short", "This password is too short. It must contain at least 8 characters."),
    ("bo", "4815162342", "This password is entirely numeric."),
    ("gwendolyn", "gwendolyn1", "The password is too similar to the username."),
])
def test_weak_passwords_are_refused_with_their_reason(db, username, password, reason):
    c = Client()
    r = signup(c, username, password)
    assert r.status_code == 200 and reason in error_text(r)
    assert not User.objects.filter(username=username).exists()


def test_password_change_and_console_made_accounts_follow_the_same_rules(db, tenant):
    user = person("ana")
    c = Client()
    sign_in(c, "ana")
    r = c.post("/accounts/password/change/", {"oldpassword": PASSWORD, "password1": "password", "password2": "password"})
    assert r.status_code == 200 and "This password is too common." in error_text(r)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # An operator creating a staff account in the console.
    console = operator_client(Client(), person("ops", staff=True))
    r = console.post("/admin/auth/user/add/", {"username": "newop", "password1": "12345678", "password2": "12345678",
                                               "usable_password": "true"})
    assert r.status_code == 200 and "This password is too common." in r.content.decode()
    assert not User.objects.filter(username="newop").exists()


# --- Sign-in throttling and its audit ------------------------------------------------------------

def fail(client, login, times):
    return [client.post("/accounts/login/", {"login": login, "password": "wrong-password"}) for _ in range(times)]


def test_failed_sign_ins_lock_the_account_for_a_while_then_let_it_in(db, allauth_clock):
    person("ana")
    c = Client(REMOTE_ADDR=ADDRESS)
    answers = fail(c, "ana", 5)
    assert {r.status_code for r in answers} == {200}
    assert "The username and/or password you specified are not correct." in error_text(answers[-1])
    # The sixth try is refused before the password is looked at, even the right one.
    locked = c.post("/accounts/login/", {"login": "ana", "password": PASSWORD})
    assert locked.status_code == 429 and locked["Retry-After"] == "300"
    assert "Too many failed login attempts. Try again later." in error_text(locked)
    assert "_auth_user_id" not in c.session
    # Who, from where, when: each failure, and the lockout.
    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "ip"))
    assert entries == [("account.login_failed", "ana", ADDRESS)] * 5 + [("account.locked_out", "ana", ADDRESS)]
    assert all(e.created_at for e in AuditEntry.objects.all())
    # Five minutes later (the account's window), the right password signs in.
    allauth_clock.advance(301)
    assert c.post("/accounts/login/", {"login": "ana", "password": PASSWORD}).status_code == 302
    assert c.session["_auth_user_id"] == str(User.objects.get(username="ana").pk)


def test_a_lockout_says_nothing_about_whether_the_account_exists(db, allauth_clock):
    person("ana")
    known, unknown = Client(REMOTE_ADDR="203.0.113.1"), Client(REMOTE_ADDR="203.0.113.2")
    for a, b in zip(fail(known, "ana", 6), fail(unknown, "nobody-here", 6)):
        assert (a.status_code, error_text(a)) == (b.status_code, error_text(b))
    assert fail(known, "ana", 1)[0].status_code == 429 == fail(unknown, "nobody-here", 1)[0].status_code
    assert AuditEntry.objects.filter(action="account.locked_out", actor="nobody-here").exists()


def test_failed_sign_ins_are_throttled_per_address(db, allauth_clock):
    person("ana")
    c = Client(REMOTE_ADDR=ADDRESS)
    for n in range(10):  # ten names, two tries each at most: no account reaches its own limit
        fail(c, f"guess-{n}", 1)
    refused = c.post("/accounts/login/", {"login": "ana", "password": PASSWORD})
    assert refused.status_code == 429 and "_auth_user_id" not in c.session
    # The same account from another address is not held back by this one's failures.
    assert Client(REMOTE_ADDR="192.0.2.44").post("/accounts/login/", {"login": "ana", "password": PASSWORD}).status_code == 302
    allauth_clock.advance(61)  # the address's window is a minute
    assert c.post("/accounts/login/", {"login": "ana", "password": PASSWORD}).status_code == 302


def test_api_style_clients_get_a_json_429(db, allauth_clock):
    c = Client(REMOTE_ADDR=ADDRESS)
    bad = c.post("/accounts/login/", {"login": "ana", "password": "x"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and "are not correct" in str(bad.json())  # allauth's JSON form errors
    fail(c, "ana", 4)
    r = c.post("/accounts/login/", {"login": "ana", "password": "x"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 429 and r["Retry-After"] == "300"
    assert r.json() == {"error": {"code": "too_many_login_attempts",
                                  "message": "Too many failed sign-in attempts. Try again later."}}


def test_operators_see_failed_sign_ins_in_the_console(db, allauth_clock):
    fail(Client(REMOTE_ADDR=ADDRESS), "mallory-target", 6)
    console = operator_client(Client(), person("ops", staff=True))
    page = console.get("/admin/tenants/auditentry/?action=account.locked_out").content.decode()
    assert "mallory-target" in page and ADDRESS in page
    assert "account.login_failed" in console.get("/admin/tenants/auditentry/").content.decode()


# --- Second factor for operators -----------------------------------------------------------------

def test_staff_without_a_second_factor_cannot_open_any_console_page(db):
    person("ops", staff=True)
    c = Client()
    sign_in(c, "ops")  # password only: no factor set up yet
    for url in CONSOLE_PAGES:
        r = c.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/2fa/totp/activate/?next="), url
    assert c.post("/admin/tenants/tenant/1/suspend/", {"confirm": "yes"})["Location"].startswith("/accounts/2fa/")


def test_staff_with_a_factor_this_session_did_not_use_are_asked_for_it(db):
    ops = person("ops", staff=True)
    secret = totp_enroll(ops)
    c = Client()
    c.force_login(ops)  # a session that never saw the factor (e.g. from before it was set up)
    r = c.get("/admin/tenants/tenant/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/2fa/reauthenticate/?next=")
    r = c.post(r["Location"], {"code": totp_code(secret)})
    assert r.status_code == 302 and r["Location"] == "/admin/tenants/tenant/"
    assert c.get("/admin/tenants/tenant/").status_code == 200


def test_totp_is_set_up_and_then_asked_at_every_sign_in(db, allauth_clock):
    person("ops", staff=True)
    c = Client(REMOTE_ADDR=ADDRESS)
    sign_in(c, "ops")
    setup = c.get("/admin/")["Location"]
    # allauth asks for the password again before a factor is added (a borrowed session cannot add one).
    again = c.get(setup)
    assert again["Location"].startswith("/accounts/reauthenticate/")
    assert c.post(again["Location"], {"password": PASSWORD})["Location"] == setup
    page = c.get(setup)
    assert page.status_code == 200
    secret = c.session["mfa.totp.secret"]  # what the QR code and the page's text carry
    assert secret in page.content.decode()
    assert "Incorrect code." in error_text(c.post(setup, {"code": "000000" if totp_code(secret) != "000000" else "111111"}))
    done = c.post(setup, {"code": totp_code(secret, allauth_clock.now)})
    assert done.status_code == 302 and done["Location"] == "/accounts/2fa/recovery-codes/"
    assert '<a href="/admin/">Continue to where you were going</a>' in c.get(done["Location"]).content.decode()
    assert c.get("/admin/").status_code == 200  # entering the new code was using the factor
    assert AuditEntry.objects.filter(action="mfa.activate", actor="ops", ip=ADDRESS).exists()
    codes = Authenticator.objects.get(user__username="ops", type="recovery_codes").wrap().get_unused_codes()

    c.post("/accounts/logout/")
    r = c.post("/accounts/login/", {"login": "ops", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/accounts/2fa/authenticate/"
    assert c.get("/admin/").status_code == 302  # not signed in until the code is entered
    allauth_clock.advance(30)  # the next period: the set-up code cannot be replayed
    assert "Incorrect code." in error_text(c.post("/accounts/2fa/authenticate/", {"code": "12345"}))
    assert c.post("/accounts/2fa/authenticate/", {"code": totp_code(secret, allauth_clock.now)}).status_code == 302
    assert c.get("/admin/").status_code == 200
    # A recovery code is a second factor too (for a lost phone), once each.
    other = Client()
    other.post("/accounts/login/", {"login": "ops", "password": PASSWORD})
    assert other.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code == 302
    assert other.get("/admin/").status_code == 200


def test_tenant_owners_may_turn_totp_on_and_are_then_asked_for_it(db, tenant, allauth_clock):
    owner = person("ana")
    Membership.objects.create(user=owner, tenant=tenant, role="owner")
    c = Client()
    sign_in(c, "ana")
    assert c.get("/api/v1/me").status_code == 200  # no factor needed for tenants
    c.post(c.get("/accounts/2fa/totp/activate/")["Location"], {"password": PASSWORD})
    c.get("/accounts/2fa/totp/activate/")
    secret = c.session["mfa.totp.secret"]
    assert c.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret, allauth_clock.now)}).status_code == 302
    c.post("/accounts/logout/")
    assert c.post("/accounts/login/", {"login": "ana", "password": PASSWORD})["Location"] == "/accounts/2fa/authenticate/"
    assert c.get("/api/v1/me").status_code == 401


def test_an_operator_resets_another_operators_factor(db):
    lost = person("lost-phone", staff=True)
    lost_client = operator_client(Client(), lost)
    assert lost_client.get("/admin/").status_code == 200
    ops = person("ops", staff=True)
    console = operator_client(Client(REMOTE_ADDR=ADDRESS), ops)
    url = f"/admin/auth/user/{lost.pk}/reset-second-factor/"
    ask = console.get(url)
    assert ask.status_code == 200 and "totp" in ask.content.decode()  # what will be deleted, asked first
    assert Authenticator.objects.filter(user=lost).exists()
    assert console.post(url, {"confirm": "yes"}).status_code == 302
    assert not Authenticator.objects.filter(user=lost).exists()
    entry = AuditEntry.objects.get(action="mfa.reset")
    assert (entry.actor, entry.target, entry.ip) == ("ops", "lost-phone", ADDRESS)
    # Their sessions ended; signing in again, the console first asks for a new factor.
    assert lost_client.get("/admin/")["Location"].startswith("/admin/login/")
    sign_in(lost_client, "lost-phone")
    assert lost_client.get("/admin/")["Location"].startswith("/accounts/2fa/totp/activate/")
    # Nobody resets their own factor from the console (that is their Two-factor page's business).
    own = console.post(f"/admin/auth/user/{ops.pk}/reset-second-factor/", {"confirm": "yes"})
    assert own.status_code == 302 and Authenticator.objects.filter(user=ops).exists()


def test_the_console_sign_in_hands_over_to_the_accounts_pages(db, tenant):
    c = Client()
    r = c.get("/admin/login/?next=/admin/tenants/tenant/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/?next=%2Fadmin%2Ftenants%2Ftenant%2F"
    assert c.get("/admin/login/?next=https://evil.example/")["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    person("member")
    sign_in(c, "member")
    assert c.get("/admin/login/?next=/admin/").status_code == 403  # signed in, but not an operator


def test_every_accounts_page_renders_in_the_editors_look(db, tenant):
    brand = '<a class="brand" href="/">Durable workflows</a>'
    anonymous = Client()
    for url in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/accounts/confirm-email/",
                "/accounts/invitations/not-a-token/"):
        r = anonymous.get(url)
        assert r.status_code in (200, 404) and brand in r.content.decode(), url
    c = Client()
    secret = totp_enroll(person("ana"))
    sign_in(c, "ana", secret=secret)
    for url in ("/accounts/email/", "/accounts/password/change/", "/accounts/2fa/", "/accounts/2fa/totp/deactivate/",
                "/accounts/2fa/recovery-codes/generate/", "/accounts/2fa/webauthn/", "/accounts/sessions/",
                "/accounts/invitations/", "/accounts/reauthenticate/", "/accounts/2fa/reauthenticate/", "/accounts/logout/"):
        r = c.get(url, follow=True)
        assert r.status_code == 200 and brand in r.content.decode(), url


def test_a_person_lists_their_sessions_and_signs_the_others_out(db, tenant):
    Membership.objects.create(user=person("ana"), tenant=tenant, role="owner")
    laptop, phone = Client(REMOTE_ADDR="192.0.2.1", HTTP_USER_AGENT="Laptop"), Client(REMOTE_ADDR="192.0.2.2", HTTP_USER_AGENT="Phone")
    sign_in(laptop, "ana")
    sign_in(phone, "ana")
    page = laptop.get("/accounts/sessions/").content.decode()
    assert "192.0.2.1" in page and "192.0.2.2" in page
    assert laptop.post("/accounts/sessions/").status_code == 302
    assert phone.get("/api/v1/me").status_code == 401
    assert laptop.get("/api/v1/me").status_code == 200


# --- Mail: verification and password reset -------------------------------------------------------

def test_sign_up_creates_the_owned_tenant_once_the_address_is_verified(db, mailoutbox):
    c = Client()
    r = signup(c, "bo", "a-long-password", tenant="bo-co", tenant_name="Bo & Co")
    assert r["Location"] == "/accounts/confirm-email/"
    assert Membership.objects.get(user__username="bo").tenant.name == "Bo & Co"
    assert c.get("/editor/").status_code == 302  # not signed in before verifying
    assert mailoutbox[-1].to == ["bo@example.com"]
    link = link_in(mailoutbox[-1], "/accounts/confirm-email/")
    assert c.get(link).status_code == 200
    assert c.post(link).status_code == 302
    assert c.get("/editor/").status_code == 200
    # Signing in later without having verified sends the mail again and does not sign in.
    signup(Client(), "cy", "a-long-password", tenant="cy-co")
    later = Client()
    assert later.post("/accounts/login/", {"login": "cy", "password": "a-long-password"})["Location"] == "/accounts/confirm-email/"
    assert mailoutbox[-1].to == ["cy@example.com"] and later.get("/editor/").status_code == 302
    # The workspace slug follows the rules and is unique.
    taken = signup(Client(), "dee", "a-long-password", tenant="bo-co")
    assert "That workspace slug is taken." in error_text(taken)
    assert "A workspace slug is" in error_text(signup(Client(), "dee", "a-long-password", tenant="Bad Slug"))


def test_password_reset_by_mail(db, mailoutbox):
    person("ana")
    c = Client()
    assert c.post("/accounts/password/reset/", {"email": "ana@example.com"}).status_code == 302
    # An unknown address is answered alike (and mailed that there is no account), so it reveals nothing.
    assert c.post("/accounts/password/reset/", {"email": "nobody@example.com"}).status_code == 302
    mail = next(m for m in mailoutbox if m.to == ["ana@example.com"])
    r = c.get(link_in(mail, "/accounts/password/reset/key/"))
    form_url = r["Location"] if r.status_code == 302 else None
    assert form_url
    weak = c.post(form_url, {"password1": "password", "password2": "password"})
    assert "This password is too common." in error_text(weak)
    assert c.post(form_url, {"password1": "a-new-long-password", "password2": "a-new-long-password"}).status_code == 302
    assert Client().post("/accounts/login/", {"login": "ana", "password": "a-new-long-password"}).status_code == 302


# --- The demo user -------------------------------------------------------------------------------

def test_the_demo_user_exists_only_in_the_embedded_demo(db, settings):
    settings.DEMO = False  # any configuration but config/up.sh's
    with pytest.raises(CommandError, match="only for the embedded demo"):
        call_command("seed_demo")
    assert not User.objects.filter(username="demo").exists()
    assert "demo / demo" not in Client().get("/accounts/login/").content.decode()
    # config/up.sh (the README's first command) turns the demo on; then it exists and is labelled.
    from pathlib import Path

    up = (Path(__file__).resolve().parents[2] / "config" / "up.sh").read_text()
    assert 'export DEMO="${DEMO:-1}"' in up and up.index("export DEMO") < up.index("seed_demo")
    settings.DEMO = True
    call_command("seed_demo")
    demo = User.objects.get(username="demo")
    assert demo.first_name == "Demo account" and demo.is_staff
    page = Client().get("/accounts/login/").content.decode()
    assert "<strong>demo</strong> / <strong>demo</strong>" in page and "Production configurations never create it" in page
    assert Client().post("/accounts/login/", {"login": "demo", "password": "demo"}).status_code == 302


# --- Invitations ---------------------------------------------------------------------------------

@pytest.fixture
def owner_api(tenant):
    from tests.api.conftest import Api
    from tenants.access import api_key_create

    return Api(api_key_create(tenant=tenant, name="owner", role="owner")[1])


@pytest.fixture
def invite(owner_api, django_capture_on_commit_callbacks):
    """POST /invitations as the owner; the mail leaves after the commit, as in production."""
    from tenants.accounts import invitations

    def post(to, role="editor"):
        with django_capture_on_commit_callbacks(execute=True):
            answer = owner_api.post("/invitations", {"to": to, "role": role})
        for thread in list(invitations.mailers):  # the mail leaves from a thread, off the request
            thread.join(timeout=30)
        return answer

    return post


def test_an_invitee_without_an_account_signs_up_from_the_invitation(db, tenant, invite, mailoutbox):
    r = invite("New.Person@example.com", "editor")
    assert r.status_code == 201 and r.data["to"] == "new.person@example.com" and "token" not in str(r.data)
    mail = mailoutbox[-1]
    assert mail.to == ["new.person@example.com"] and "Acme" in mail.subject
    c = Client()
    page = c.get(link_in(mail, "/accounts/invitations/"))
    assert page.status_code == 200 and "Create your account" in page.content.decode()
    form = c.get("/accounts/signup/").content.decode()
    assert 'value="new.person@example.com"' in form  # the invited address, filled in
    other = c.post("/accounts/signup/", {"username": "newbie", "email": "elsewhere@example.com",
                                         "password1": "a-long-password", "password2": "a-long-password"})
    assert "Choose a workspace slug" in error_text(other)  # another address: not the invitee, needs a workspace
    r = c.post("/accounts/signup/", {"username": "newbie", "email": "new.person@example.com",
                                     "password1": "a-long-password", "password2": "a-long-password"})
    assert r.status_code == 302  # no workspace of their own needed, and no second mail to verify
    assert c.get("/api/v1/me").json() == {"tenant": "acme", "role": "editor", "tenants": ["acme"], "user": "newbie"}
    assert len(mailoutbox) == 1
    assert Invitation.objects.get().accepted_by.username == "newbie"
    assert list(AuditEntry.objects.values_list("action", flat=True).order_by("pk")) == ["member.invite", "member.join"]
    assert c.get(link_in(mail, "/accounts/invitations/")).status_code == 404  # used once
    # Operators see a tenant's invitations on its console page.
    page = operator_client(Client(), person("ops", staff=True)).get(f"/admin/tenants/tenant/{tenant.pk}/change/")
    assert "new.person@example.com" in page.content.decode()


def test_an_invitation_answer_never_reveals_whether_a_username_exists(db, tenant, owner_api, invite, mailoutbox):
    person("existing")
    answers = [invite(name, "viewer") for name in ("existing", "no-such-person")]
    shapes = [(r.status_code, sorted(r.data), r.data["role"], r.data["invited_by"]) for r in answers]
    assert shapes[0] == shapes[1] and shapes[0][0] == 201
    assert [m.to for m in mailoutbox] == [["existing@example.com"]]  # to the account's address only
    # Members: an unknown name and a non-member answer alike.
    for name in ("existing", "no-such-person"):
        r = owner_api.put(f"/members/{name}", {"role": "viewer"})
        assert r.status_code == 404 and "is not a member" in r.data["error"]["message"]
    # Whoever takes the unknown name later cannot accept what was meant for someone else.
    taker = person("no-such-person")
    c = Client()
    sign_in(c, "no-such-person")
    assert "No pending invitations" in c.get("/accounts/invitations/").content.decode()
    assert not Membership.objects.filter(user=taker).exists()
    # The existing account sees its invitation and accepts it.
    c = Client()
    sign_in(c, "existing")
    invitation = Invitation.objects.get(username="existing")
    assert "Acme" in c.get("/accounts/invitations/").content.decode()
    assert c.post("/accounts/invitations/", {"id": invitation.pk}).status_code == 302
    assert Membership.objects.get(user__username="existing", tenant=tenant).role == "viewer"


def test_an_invitation_link_is_only_for_its_account(db, tenant, invite, mailoutbox):
    invite("someone@example.com", "owner")
    person("intruder")
    c = Client()
    sign_in(c, "intruder")
    link = link_in(mailoutbox[-1], "/accounts/invitations/")
    assert c.get(link).status_code == 403
    assert c.post(link).status_code == 403
    assert not Membership.objects.filter(user__username="intruder").exists()


def test_only_owners_invite_and_invitations_can_be_revoked(db, tenant, owner_api):
    from tests.api.conftest import Api
    from tenants.access import api_key_create

    editor = Api(api_key_create(tenant=tenant, name="ed", role="editor")[1])
    assert editor.post("/invitations", {"to": "x@example.com"}).status_code == 403
    assert owner_api.post("/invitations", {"to": "x@example.com", "role": "king"}).status_code == 422
    assert owner_api.post("/invitations", {"to": "not an address@"}).data["error"]["field"] == "to"
    assert owner_api.post("/invitations", {"to": "nul\x00name"}).status_code == 422
    made = owner_api.post("/invitations", {"to": "x@example.com"}).data
    assert [i["id"] for i in owner_api.get("/invitations").data] == [made["id"]]
    assert owner_api.delete(f"/invitations/{made['id']}").status_code == 204
    assert owner_api.get("/invitations").data == []
    assert owner_api.delete(f"/invitations/{made['id']}").status_code == 404


def test_a_code_of_the_period_just_ended_still_signs_in_once(db, allauth_clock):
    """One 30 s step of drift either way (MFA_TOTP_TOLERANCE): a code typed as its period ends still
    works; two steps back it does not; and any code signs in only once."""
    user = person("drift", staff=True)
    secret = totp_enroll(user)

    def second_factor(code):
        c = Client()
        assert c.post("/accounts/login/", {"login": "drift", "password": PASSWORD})["Location"] == "/accounts/2fa/authenticate/"
        r = c.post("/accounts/2fa/authenticate/", {"code": code})
        return r.status_code == 302 and "/2fa/" not in r["Location"]

    assert not second_factor(totp_code(secret, allauth_clock.now - 60))
    assert second_factor(totp_code(secret, allauth_clock.now - 30))
    assert not second_factor(totp_code(secret, allauth_clock.now - 30))  # used: never again
