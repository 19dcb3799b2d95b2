"""ASGI entry point served by daphne.

BodyLimit answers 413 to a webhook whose body is over WEBHOOK_MAX_BODY_BYTES before it is buffered:
daphne has no body cap of its own and Django reads the whole body first.
"""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402


class BodyLimit:
    def __init__(self, app, limit: int, prefix: str = "/hooks/"):
        self.app, self.limit, self.prefix = app, limit, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            return await self.reject(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a body longer than its Content-Length said
                raise ValueError("body over the limit")
            return message

        return await self.app(scope, counted, send)

    @staticmethod
    async def reject(send):
        body = b'{"error": {"code": "too_large", "message": "the body is too large"}}'
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


application = ProtocolTypeRouter({"http": BodyLimit(django_asgi_app, settings.WEBHOOK_MAX_BODY_BYTES)})
