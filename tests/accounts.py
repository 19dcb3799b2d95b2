"""Accounts in tests: people with a verified address, TOTP codes computed as an authenticator app
would (allauth's own HOTP function), and operators signed in through the real sign-in with their
second factor, as the console requires (tenants.accounts.mfa)."""
import time

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.models import User

PASSWORD = "a-long-password"


def person(username: str, password: str = PASSWORD, *, staff: bool = False, email: str | None = None) -> User:
    """A user whose address is verified (sign-in requires one), optionally an operator (superuser)."""
    email = email or f"{username}@example.com"
    make = User.objects.create_superuser if staff else User.objects.create_user
    user = make(username, email, password)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def totp_enroll(user: User) -> str:
    """Give `user` a TOTP authenticator; returns its secret (what the QR code carries)."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def totp_code(secret: str, at: float | None = None) -> str:
    from allauth.mfa import app_settings

    return format_hotp_value(hotp_value(secret, int(at or time.time()) // app_settings.TOTP_PERIOD))


def sign_in(client, username: str, password: str = PASSWORD, secret: str | None = None):
    """The browser's sign-in, through allauth's forms: password, then the TOTP code if asked."""
    r = client.post("/accounts/login/", {"login": username, "password": password})
    assert r.status_code == 302, r.content[:500]
    if r["Location"].startswith("/accounts/2fa/authenticate/"):
        assert secret, "this account has a second factor: pass its secret"
        r = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
        assert r.status_code == 302 and "/2fa/" not in r["Location"], r.content[:500]
    return r


def operator_client(client, user: User, password: str = PASSWORD):
    """`client` signed in as the operator `user` with a second factor, as the console requires."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        user.totp_secret = totp_enroll(user)
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        EmailAddress.objects.create(user=user, email=user.email or f"{user.username}@example.com", verified=True,
                                    primary=True)
    sign_in(client, user.get_username(), password, user.totp_secret)
    return client
