"""The REST API at /api/v1/ (django-ninja; OpenAPI at /api/v1/docs): one router per app, errors
mapped to HTTP in one place with one JSON shape: {"error": {"code", "message", "field"?, "node_id"?}}."""
import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from builder.api import router as builder_router
from builder.errors import GraphInvalid
from engine.api import router as engine_router
from triggers.api import router as triggers_router
from tenants.access import AUTH
from tenants.api import router as tenants_router
from tenants.errors import DomainError

log = logging.getLogger(__name__)

api = NinjaAPI(title="Durable workflows API", version="1", urls_namespace="api", auth=AUTH, docs_url="/docs")
api.add_router("/", tenants_router)
api.add_router("/", builder_router)
api.add_router("/", engine_router)
api.add_router("/", triggers_router)


def error(request, status: int, code: str, message: str, **extra):
    body = {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return api.create_response(request, {"error": body}, status=status)


@api.exception_handler(GraphInvalid)
def graph_invalid(request, exc: GraphInvalid):
    return error(request, 422, "invalid_graph", exc.message, field=exc.field, node_id=exc.node_id, problems=exc.problems)


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    response = error(request, exc.status, exc.code, exc.message, field=exc.field)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path", "payload")]
    return error(request, 422, "invalid", first.get("msg", "invalid request"), field=".".join(loc) or None,
                 problems=[{"field": ".".join(str(p) for p in e.get("loc", [])), "message": e.get("msg")} for e in exc.errors])


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return error(request, 401, "unauthenticated", "sign in, or send Authorization: Bearer <api key>")


@api.exception_handler(Http404)
def not_found(request, exc):
    return error(request, 404, "not_found", "not found")


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return error(request, exc.status_code, "error", str(exc))


@api.exception_handler(Exception)
def unexpected(request, exc):
    log.exception("API error on %s %s", request.method, request.path)
    return error(request, 500, "internal", "something went wrong on our side; it has been logged")
