"""Helpers shared by the operator console's admin pages (tenants, builder and engine admin modules).

Invariants:
- Every operator action that changes something asks first: a GET (or an action POST without
  `confirm=yes`) renders a confirmation page stating the impact; only a POST with `confirm=yes`
  acts. So no link, prefetch or crawler can suspend a tenant or terminate an instance.
- Every operator action goes through a service and is audited (tenants.audit) with the staff
  user's username and the request's IP address.
"""
from __future__ import annotations

from django.contrib.admin import site as admin_site
from django.contrib.admin.options import IncorrectLookupParameters
from django.template.response import TemplateResponse

from tenants.audit import audit_record, client_ip


def actor(request) -> str:
    return request.user.get_username()


def operator_audit(request, *, action: str, tenant=None, target: str = "", details: dict | None = None):
    return audit_record(action=action, actor=actor(request), tenant=tenant, target=target,
                        ip=client_ip(request), details={"console": True, **(details or {})})


def confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("confirm") == "yes"


def confirm_page(request, *, title: str, question: str, impact: list[str], confirm_label: str,
                 cancel_url: str, hidden: list[tuple[str, str]] = (), danger: bool = True,
                 opts=None) -> TemplateResponse:
    """The page that states what an action will do, with a form that posts it back confirmed."""
    context = {
        **admin_site.each_context(request),
        "title": title, "question": question, "impact": impact, "confirm_label": confirm_label,
        "cancel_url": cancel_url, "hidden": hidden, "danger": danger, "opts": opts,
        "form_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/console/confirm.html", context)


class RefuseNulFilters:
    """A ModelAdmin mixin: a list URL whose filter or search values hold a NUL character is a bad
    lookup (Django's redirect to ?e=1), not a 500 from PostgreSQL, which refuses NUL in text."""

    def get_changelist_instance(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("a filter value holds a NUL character")
        return super().get_changelist_instance(request)
