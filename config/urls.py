"""The project's URLs: the API, the hooks and approval pages (triggers), the editor, the console,
/metrics. Invariant: only routing here; every view lives in its app."""
from django.contrib import admin
from django.urls import include, path

from console.metrics import metrics
from tenants.views import signup_view

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", metrics, name="metrics"),
    path("accounts/signup/", signup_view, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("triggers.urls")),
    path("", include("frontend.urls")),
]
