"""Entry point of Celery workers and beat (`celery -A config.celery worker`): the project's settings,
then the engine's Celery app (engine.celery_app)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from engine.celery_app import app  # noqa: E402

__all__ = ["app"]
