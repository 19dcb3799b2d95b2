"""Views around allauth's: sign-in answers 429 to a locked-out name, TOTP activation counts as using
the factor, the console's login page hands over to the accounts pages, and invitations."""
from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.login import record_authentication
from allauth.account.views import LoginView as AllauthLoginView
from allauth.mfa.totp.views import ActivateTOTPView as AllauthActivateTOTPView
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from ..audit import audit_record, client_ip
from ..errors import NotFound
from .invitations import SESSION_KEY, invitation_accept, invitation_by_token, invitation_is_for, invitations_for_user


def lockout_seconds() -> int:
    """The longest window of the failed sign-in limits: when a locked-out name may try again."""
    from allauth.core.internal.ratelimit import parse_rates

    return int(max((r.duration for r in parse_rates(settings.ACCOUNT_RATE_LIMITS.get("login_failed"))), default=60))


def wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


class LoginView(AllauthLoginView):
    """allauth's sign-in (its JSON answers for API-style clients included); a refused locked-out
    name is a 429 with Retry-After, as a JSON error for those clients."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if getattr(request, "account_locked_out", False):
            if wants_json(request):
                response = JsonResponse({"error": {"code": "too_many_login_attempts", "message":
                                         "Too many failed sign-in attempts. Try again later."}}, status=429)
            else:
                response.status_code = 429
            response["Retry-After"] = str(lockout_seconds())
        return response


class ActivateTOTPView(AllauthActivateTOTPView):
    """allauth's TOTP set-up. Entering a code from the new authenticator is using it: the session
    counts as signed in with a second factor (the console asks for one), and it is audited."""

    def get(self, request, *args, **kwargs):
        # The form posts to the bare URL: remember where the person was going (the console) now.
        next_url = request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            request.session["mfa_next"] = next_url  # offered once the recovery codes are shown
        return super().get(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        record_authentication(self.request, self.request.user, method="mfa", type="totp", activated=True)
        audit_record(action="mfa.activate", actor=self.request.user.get_username(), target="totp",
                     ip=client_ip(self.request))
        return response


def console_login(request):
    """/admin/login/: the console has no sign-in of its own; the accounts pages (with their rate
    limits and second factor) sign operators in, then send them back."""
    next_url = request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/admin/"
    if request.user.is_authenticated and not request.user.is_staff:
        return render(request, "tenants/not_operator.html", status=403)
    if request.user.is_authenticated:
        return redirect(next_url)
    return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")


def invitation(request, token: str):
    """The mailed link: see who invites you to what, then accept (signed in) or sign up / sign in."""
    found = invitation_by_token(token=token)
    if found is None:
        return render(request, "tenants/invitation.html", {"invitation": None}, status=404)
    if not request.user.is_authenticated:
        request.session[SESSION_KEY] = token
        if found.email:
            # The link came by mail to this address: a sign-up with it needs no second verification.
            get_adapter().stash_verified_email(request, found.email)
        return render(request, "tenants/invitation.html", {"invitation": found, "here": request.path})
    mine = invitation_is_for(invitation=found, user=request.user)
    if request.method == "POST" and mine:
        try:
            invitation_accept(invitation=found, user=request.user, ip=client_ip(request))
        except NotFound:  # accepted meanwhile, from another tab
            return render(request, "tenants/invitation.html", {"invitation": None}, status=404)
        request.session["tenant"] = found.tenant.slug
        request.session.pop(SESSION_KEY, None)
        messages.success(request, f"You joined {found.tenant.name} as {found.role}.")
        return redirect("/editor/")
    return render(request, "tenants/invitation.html", {"invitation": found, "mine": mine}, status=200 if mine else 403)


def invitations(request):
    """The signed-in person's pending invitations (by username, or to a verified address)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
    if request.method == "POST":
        chosen = next((i for i in invitations_for_user(user=request.user) if str(i.pk) == request.POST.get("id")), None)
        try:
            if chosen is None:
                raise NotFound("invitation", "no such invitation")
            invitation_accept(invitation=chosen, user=request.user, ip=client_ip(request))
        except NotFound:
            raise Http404("no such invitation") from None
        request.session["tenant"] = chosen.tenant.slug
        messages.success(request, f"You joined {chosen.tenant.name} as {chosen.role}.")
        return redirect("/editor/")
    return render(request, "tenants/invitations.html", {"invitations": invitations_for_user(user=request.user)})
