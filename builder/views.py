"""Views outside the API: the approval page that approval links open, and webhook endpoints."""
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tenants.errors import DomainError

from . import webhooks
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


@csrf_exempt  # authenticated by signature or token, not by a browser session
@require_http_methods(["POST"])
def webhook(request, tenant: str, workflow: str, path: str = ""):
    return _answer(lambda: webhooks.handle_delivery(request, tenant, workflow, path))


@csrf_exempt
@require_http_methods(["POST"])
def webhook_event(request, tenant: str, workflow: str, instance: str, type: str):
    return _answer(lambda: webhooks.handle_event(request, tenant, workflow, instance, type))


def _answer(run):
    try:
        return run()
    except RequestDataTooBig:
        return JsonResponse({"error": {"code": "too_large", "message": "the body is too large"}}, status=413)
    except DomainError as e:
        response = JsonResponse({"error": {"code": e.code, "message": e.message}}, status=e.status)
        if getattr(e, "retry_after", None):
            response["Retry-After"] = str(e.retry_after)
        return response
