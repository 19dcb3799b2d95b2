"""The engine's Django app."""
from django.apps import AppConfig
from django.db.models.signals import post_migrate


def analyze_after_migrate(*, using, **_) -> None:
    """New indexes need statistics before the planner picks them (SQLite never gathers any itself)."""
    from django.db import connections

    from .dispatch import analyze

    analyze(using=connections[using])


def due_triggers_after_migrate(*, using, **_) -> None:
    """The triggers that keep TenantDue (engine.due_tenants) exist after every migrate: on SQLite a
    later migration that rebuilds the instance table (ALTER TABLE by copy) drops its triggers."""
    from django.db import connections

    from .due_tenants import install_triggers

    conn = connections[using]
    if "engine_tenantdue" in conn.introspection.table_names():
        install_triggers(conn)


class EngineConfig(AppConfig):
    name = "engine"

    def ready(self) -> None:
        post_migrate.connect(due_triggers_after_migrate, sender=self, dispatch_uid="engine-due-triggers")
        post_migrate.connect(analyze_after_migrate, sender=self, dispatch_uid="engine-analyze")
