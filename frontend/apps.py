"""The editor's Django app."""
from django.apps import AppConfig


class FrontendConfig(AppConfig):
    name = "frontend"
