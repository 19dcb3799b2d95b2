"""The editor's pages (/editor/...). Invariant: routing only."""
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("editor/step-api.d.ts", views.step_api_types, name="step-api-types"),
    re_path(r"^editor/(?P<path>.*)$", views.editor, name="editor"),
]
