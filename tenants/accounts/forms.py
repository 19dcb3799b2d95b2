"""Sign-up: allauth's form (username, email, password with Django's validators) plus the workspace
(tenant) the new person owns. Signing up from an invitation may skip the workspace: the person
joins the inviting tenant instead. The account, its tenant and membership are written together."""
from __future__ import annotations

import re

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.db import transaction

from ..audit import client_ip
from ..errors import NotFound
from ..models import Tenant
from .invitations import SESSION_KEY, invitation_accept, invitation_by_token, invitation_is_for

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class SignupForm(AllauthSignupForm):
    tenant = forms.CharField(label="Workspace (tenant) slug", max_length=63, required=False,
                             help_text="2-63 lowercase letters, digits and '-': it appears in webhook URLs.")
    tenant_name = forms.CharField(label="Workspace name", max_length=200, required=False)
    field_order = ["username", "email", "password1", "password2", "tenant", "tenant_name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = context.request
        self.invitation = invitation_by_token(token=request.session.get(SESSION_KEY, "")) if request else None
        if self.invitation is None:
            self.fields["tenant"].required = True
        else:
            self.fields["tenant"].help_text = (f"Optional: you join {self.invitation.tenant.name} by accepting the "
                                               "invitation; name a workspace only to also have your own.")
            if self.invitation.email:
                self.fields["email"].initial = self.invitation.email

    def clean_tenant(self) -> str:
        slug = self.cleaned_data.get("tenant", "").strip()
        if slug and not SLUG.match(slug):
            raise forms.ValidationError("A workspace slug is 2-63 lowercase letters, digits and '-'.")
        if slug and Tenant.objects.filter(slug=slug).exists():
            raise forms.ValidationError("That workspace slug is taken.")
        return slug

    def clean(self):
        cleaned = super().clean()
        joins = (self.invitation is not None and self.invitation.email
                 and (cleaned.get("email") or "").lower() == self.invitation.email)
        if not cleaned.get("tenant") and not joins and "tenant" not in self.errors:
            # Without the invited address the invitation is not this account's: it needs a workspace.
            self.add_error("tenant", "Choose a workspace slug (or sign up with the address you were invited at).")
        return cleaned

    def save(self, request):
        from ..services import tenant_create_owned

        with transaction.atomic():
            user = super().save(request)
            if self.cleaned_data.get("tenant"):
                tenant = tenant_create_owned(user=user, slug=self.cleaned_data["tenant"],
                                             name=self.cleaned_data.get("tenant_name", ""))
                request.session["tenant"] = tenant.slug
            # setup_user_email (in super().save) marked the address verified if it is the one the
            # invitation was mailed to: then the invitation is this person's, accepted at once.
            if self.invitation is not None and invitation_is_for(invitation=self.invitation, user=user):
                try:
                    invitation_accept(invitation=self.invitation, user=user, ip=client_ip(request))
                    request.session["tenant"] = self.invitation.tenant.slug
                except NotFound:  # accepted meanwhile: the account stands, without that membership
                    pass
                request.session.pop(SESSION_KEY, None)
        return user
