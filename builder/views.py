"""The approval page that approval links open (GET shows the choice, POST records it)."""
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tenants.errors import DomainError

from .approvals import approval_decide, approval_read


@require_http_methods(["GET", "POST"])
def approval(request, token: str):
    try:
        instance, step, decision = approval_read(token)
        if request.method == "POST":
            approval_decide(token, by=request.user.get_username() if request.user.is_authenticated else "")
            return render(request, "builder/approval.html", {"done": True, "decision": decision, "step": step})
    except DomainError as e:
        return HttpResponse(e.message, status=e.status, content_type="text/plain")
    return render(request, "builder/approval.html", {"decision": decision, "step": step, "instance": instance})
