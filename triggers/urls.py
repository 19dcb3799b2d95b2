"""The hooks and approval pages outside the API (triggers.views). Invariant: routing only."""
from django.urls import path

from . import views

urlpatterns = [
    path("approvals/<str:token>/", views.approval, name="approval"),
    path("hooks/<slug:tenant>/<slug:workflow>/events/<str:instance>/<str:type>", views.webhook_event, name="webhook-event"),
    path("hooks-test/<slug:tenant>/<slug:workflow>", views.webhook_test, name="webhook-test"),
    path("hooks/<slug:tenant>/<slug:workflow>", views.webhook, name="webhook"),
    path("hooks/<slug:tenant>/<slug:workflow>/<path:path>", views.webhook, name="webhook-path"),
]
