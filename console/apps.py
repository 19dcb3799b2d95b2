"""The operator console's Django app (its admin pages are registered by console/admin.py)."""
from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
