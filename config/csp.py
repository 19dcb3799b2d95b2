"""Content-Security-Policy for the pages a browser renders: the editor and the operator console.

The editor is a Vite bundle: its scripts come from our own origin only, its socket is same-origin
(ws/wss), React Flow sets inline styles. The console (django-unfold) runs Alpine.js, which
evaluates its directives as code, and a few inline scripts: it gets those allowances, on /admin/
only. No page may be framed (frame-ancestors 'none'), nothing may post forms elsewhere.
"""
from __future__ import annotations

BASE = ("default-src 'self'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; ")
POLICIES = (
    ("/editor/", BASE + "script-src 'self'; style-src 'self' 'unsafe-inline'"),
    ("/admin/", BASE + "script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'"),
    ("/accounts/", BASE + "script-src 'self'; style-src 'self' 'unsafe-inline'"),
    ("/approvals/", BASE + "script-src 'self'; style-src 'self' 'unsafe-inline'"),
)


class ContentSecurityPolicy:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        for prefix, policy in POLICIES:
            if request.path.startswith(prefix):
                response.headers.setdefault("Content-Security-Policy", policy)
                break
        return response
