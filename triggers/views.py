"""Views outside the API: the approval page that approval links open, and webhook endpoints."""
from asgiref.sync import async_to_sync
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tenants.errors import DomainError

from . import webhooks
from .approvals import approval_decide, approval_read
from .test_deliveries import capture


@require_http_methods(["GET", "POST"])
def approval(request, token: str):
    try:
        instance, step, decision = approval_read(token)
        if request.method == "POST":
            approval_decide(token, by=request.user.get_username() if request.user.is_authenticated else "")
            return render(request, "triggers/approval.html", {"done": True, "decision": decision, "step": step})
    except DomainError as e:
        return HttpResponse(e.message, status=e.status, content_type="text/plain")
    return render(request, "triggers/approval.html", {"decision": decision, "step": step, "instance": instance})


@csrf_exempt  # authenticated by signature or token, not by a browser session
@require_http_methods(["POST"])
def webhook(request, tenant: str, workflow: str, path: str = ""):
    return _answer(request, lambda d: webhooks.deliver(d, tenant, workflow, path))


@csrf_exempt
@require_http_methods(["POST"])
def webhook_test(request, tenant: str, workflow: str):
    """A test delivery for an editor listening for one (triggers.test_deliveries)."""
    return _answer(request, lambda d: capture(d, tenant, workflow))


@csrf_exempt
@require_http_methods(["POST"])
def webhook_event(request, tenant: str, workflow: str, instance: str, type: str):
    return _answer(request, lambda d: webhooks.deliver_event(d, tenant, workflow, instance, type))


def _answer(request, run):
    """The Django path to the hooks (under daphne, config.asgi routes /hooks/ to the raw ASGI app)."""
    try:
        delivery = webhooks.delivery_from_request(request)
        delivery.body = webhooks.read_body(request)
        answer = run(delivery)
        if answer.wait_for:
            answer = async_to_sync(webhooks.respond_wait)(answer)
    except RequestDataTooBig:
        answer = webhooks.Answer(413, {"error": {"code": "too_large", "message": "the body is too large"}}, {})
    except DomainError as e:
        answer = webhooks.error_answer(e)
    response = JsonResponse(answer.body, status=answer.status, safe=False)
    for k, v in answer.headers.items():
        response[k] = v
    return response
