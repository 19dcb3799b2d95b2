"""Serves the editor's single-page app (built by Vite into static/frontend/dist)."""
import json
from functools import lru_cache
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

DIST = Path(__file__).resolve().parent / "static" / "frontend" / "dist"
# The step API's TypeScript declarations: the editor bundles them for completion; served here for
# anyone writing a code-first program in their own editor (no tenant data: no sign-in needed).
STEP_API_TYPES = Path(__file__).resolve().parent / "src" / "code" / "step-api.d.ts"


@lru_cache(maxsize=1)
def entry() -> dict:
    """The built entry's script and styles, from Vite's manifest (empty if the editor is not built)."""
    manifest = DIST / ".vite" / "manifest.json"
    if not manifest.exists():
        return {}
    chunk = json.loads(manifest.read_text())["src/main.tsx"]
    return {"script": chunk["file"], "styles": chunk.get("css", [])}


def home(request):
    return render(request, "frontend/home.html")


@login_required
@ensure_csrf_cookie  # the editor sends the CSRF token with its API writes
def editor(request, path: str = ""):
    return render(request, "frontend/editor.html", {"entry": entry()})


def step_api_types(request):
    response = HttpResponse(STEP_API_TYPES.read_text(), content_type="application/typescript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response
