"""The project's URLs: the API, the hooks and approval pages (triggers), the editor, the console,
/metrics. Invariant: only routing here; every view lives in its app."""
from django.contrib import admin
from django.urls import include, path, re_path

from console.metrics import metrics
from tenants.accounts.views import console_login

from .api import api, not_found_view

urlpatterns = [
    path("admin/login/", console_login),  # operators sign in through /accounts/ (rate limits, MFA)
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/", not_found_view),
    path("metrics", metrics, name="metrics"),
    path("accounts/", include("tenants.accounts.urls")),
    path("", include("triggers.urls")),
    path("", include("frontend.urls")),
]
