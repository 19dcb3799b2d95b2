"""Request bodies over REQUEST_MAX_BODY_BYTES are refused while they arrive, under daphne.

daphne (Twisted) receives a request's whole body, spooling it to a temporary file, before the
ASGI application is called, so no ASGI middleware can refuse an upload early. The limit is
therefore set where the bytes arrive: daphne's Twisted request class is replaced by one that
answers 413 (the API's JSON error shape) and closes the connection as soon as the declared
Content-Length, or the bytes received so far of a chunked body, pass the limit. At most one
read buffer (64 KiB) past the limit is taken from the socket. WebSockets (GET upgrades, no body)
and every request under the limit are untouched.

`install()` is called from config.asgi, which daphne imports before it builds its server, so the
limit holds for `manage.py serve` and for `daphne config.asgi:application` alike.
"""
from __future__ import annotations

import json
import logging

from django.conf import settings

log = logging.getLogger(__name__)


def refusal(limit: int) -> bytes:
    body = json.dumps({"error": {"code": "too_large", "message": f"the body is over {limit} bytes"}}).encode()
    return (b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def install() -> None:
    from daphne import http_protocol

    if getattr(http_protocol.WebRequest, "body_limited", False):
        return
    base = http_protocol.WebRequest

    class LimitedWebRequest(base):
        body_limited = True
        received = 0
        refused = False

        def refuse(self) -> None:
            limit = settings.REQUEST_MAX_BODY_BYTES
            self.refused = True
            self.requestHeaders.removeHeader(b"Expect")  # no "100 Continue" after the refusal
            transport = self.channel.transport
            transport.write(refusal(limit))
            transport.loseConnection()  # stops reading at once; closes once the answer is written
            log.warning("body limit: refused a request body over %d bytes after reading %d body bytes",
                        limit, self.received)

        def gotLength(self, length):
            if length is not None and length > settings.REQUEST_MAX_BODY_BYTES:
                super().gotLength(0)  # an empty in-memory buffer: nothing is spooled
                return self.refuse()
            return super().gotLength(length)

        def handleContentChunk(self, data):
            if self.refused:
                return
            self.received += len(data)
            if self.received > settings.REQUEST_MAX_BODY_BYTES:  # chunked, or more than declared
                return self.refuse()
            return super().handleContentChunk(data)

        def requestReceived(self, command, path, version):
            if self.refused:  # answered already; the application never sees it
                return
            return super().requestReceived(command, path, version)

    http_protocol.WebRequest = LimitedWebRequest
