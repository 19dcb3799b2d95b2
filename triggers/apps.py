"""The triggers app: everything that starts an instance (see triggers/__init__.py)."""
from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
