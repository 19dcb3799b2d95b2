"""The REST API at /api/v1/ (django-ninja; OpenAPI at /api/v1/docs): one router per app, errors
mapped to HTTP in one place with one JSON shape: {"error": {"code", "message", "field"?, "node_id"?}}."""
import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from ninja import NinjaAPI
from ninja.parser import Parser
from ninja.errors import AuthenticationError, HttpError, ValidationError

from builder.api import router as builder_router
from builder.errors import GraphInvalid
from engine.api import router as engine_router
from triggers.api import router as triggers_router
from tenants.access import AUTH
from tenants.api import router as tenants_router
from tenants.errors import DomainError
from tenants.jsonbody import json_loads_checked

log = logging.getLogger(__name__)



class CheckedParser(Parser):
    """Bodies are walked once, iteratively, before anything else: a depth bomb, U+0000 or a lone
    surrogate answers 422 naming where it is (tenants.jsonbody), never a RecursionError or an
    encoding error deep in a service."""

    def parse_body(self, request):
        return json_loads_checked(request.body, "")


class API(NinjaAPI):
    """Every operation's OpenAPI entry lists the 4xx answers the front door can give it, each
    with the one error body: auth, validation and body-size refusals apply to all of them."""

    ERRORS = {"400": "the body is not JSON", "401": "not signed in, or a bad API key",
              "403": "the role does not allow it, or a plan quota is spent", "404": "no such row in this tenant",
              "409": "a conflict (state, or the same Idempotency-Key in flight)", "413": "the body is over the limit",
              "422": "invalid input; `field` (or `node_id`, `line`, `column`) says where",
              "423": "the tenant is suspended", "429": "over a plan's rate; see Retry-After"}
    READ_ERRORS = ("400", "401", "404", "422")

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
                "node_id": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"},
                "problems": {"type": "array", "items": {"type": "object"}}}}}}
        for methods in schema.get("paths", {}).values():
            for method, operation in methods.items():
                codes = self.READ_ERRORS if method == "get" else self.ERRORS
                for code in codes:
                    # int keys, as django-ninja writes its own (the export sorts them together)
                    operation.setdefault("responses", {}).setdefault(int(code), {
                        "description": self.ERRORS[code],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        return schema


api = API(title="Durable workflows API", version="1", urls_namespace="api", auth=AUTH, docs_url="/docs",
          parser=CheckedParser())
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
    response = error(request, exc.status, exc.code, exc.message, field=exc.field, node_id=getattr(exc, "node_id", None),
                     line=getattr(exc, "line", None), column=getattr(exc, "column", None))
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
    if isinstance(exc.__cause__, DomainError):  # django-ninja wraps what the body parser raised
        return domain_error(request, exc.__cause__)
    if isinstance(exc.__cause__, (ValueError, UnicodeDecodeError)):
        return error(request, 400, "invalid_json", "the body is not valid UTF-8 JSON")
    return error(request, exc.status_code, "error", str(exc))


@api.exception_handler(RequestDataTooBig)
def too_large(request, exc):
    from django.conf import settings

    return error(request, 413, "too_large", f"the body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")


def refuse_unstorable_input(get_response):
    """Middleware: an API path or query value holding U+0000 answers 422 (PostgreSQL refuses the
    character in any query, which would be a 500 deep in a selector); Django has already turned
    undecodable bytes into replacement characters or percent escapes."""
    from tenants.jsonbody import UNSTORABLE

    def middleware(request):
        if request.path.startswith("/api/"):
            where = "path" if UNSTORABLE.search(request.path) else next(
                (k for k, values in request.GET.lists() if UNSTORABLE.search(k) or any(UNSTORABLE.search(v) for v in values)), None)
            if where is not None:
                return JsonResponse({"error": {"code": "invalid", "field": where,
                                               "message": f"{where} holds U+0000 or a lone surrogate"}}, status=422)
        return get_response(request)

    return middleware


def not_found_view(request, *args, **kwargs):
    """Paths under /api/ that match no operation: the API's JSON 404, not Django's HTML page."""
    return JsonResponse({"error": {"code": "not_found", "message": f"no API operation at {request.path}"}}, status=404)


@api.exception_handler(Exception)
def unexpected(request, exc):
    log.exception("API error on %s %s", request.method, request.path)
    return error(request, 500, "internal", "something went wrong on our side; it has been logged")
