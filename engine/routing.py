"""The WebSocket routes of live progress (engine.consumers). Invariant: routing only."""
from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/instances/<str:instance_id>/", consumers.InstanceProgressConsumer.as_asgi()),
    path("ws/workflows/<int:workflow_id>/", consumers.WorkflowProgressConsumer.as_asgi()),
]
