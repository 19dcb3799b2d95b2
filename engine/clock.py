"""The engine's clock. Time is injected, never slept on: tests freeze or move it with `set_now`."""
from collections.abc import Callable
from datetime import datetime, timezone

from django.utils import timezone as dj_timezone

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    return _override() if _override else dj_timezone.now()


def set_now(fn: Callable[[], datetime] | None) -> None:
    global _override
    _override = fn


def to_ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=timezone.utc)
