"""The engine's Django app."""
from django.apps import AppConfig
from django.db.models.signals import post_migrate


def analyze_after_migrate(*, using, **_) -> None:
    """New indexes need statistics before the planner picks them (SQLite never gathers any itself)."""
    from django.db import connections

    from .dispatch import analyze

    analyze(using=connections[using])


class EngineConfig(AppConfig):
    name = "engine"

    def ready(self) -> None:
        post_migrate.connect(analyze_after_migrate, sender=self, dispatch_uid="engine-analyze")
