"""The `schedule` trigger: instances started on a cron, in a time zone (fired by triggers.schedules).

Invariant: the cron and time zone are checked when the graph is validated, so a published
schedule always has a next slot."""
from croniter import croniter

from .base import NodeSpec, object_schema

SPEC = NodeSpec(
    type="schedule", label="Schedule", group="triggers", trigger=True, step=False,
    description="Started on a cron schedule in a time zone; its output is { scheduledAt }.",
    schema=object_schema({
        "cron": {"type": "string", "minLength": 9, "description": "five-field cron, e.g. \"0 9 * * 1-5\""},
        "timezone": {"type": "string", "default": "UTC"},
        "overlap": {"enum": ["skip", "allow"], "default": "skip",
                    "description": "skip a run while the previous one is still active, or allow it"},
    }, ["cron"]),
    compile=lambda node, c: "return { value: event.payload };",
)


def check(data: dict) -> list[tuple[str, str]]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    problems = []
    if isinstance(data.get("cron"), str) and not croniter.is_valid(data["cron"]):
        problems.append(("cron", f"not a valid cron expression: {data['cron']}"))
    try:
        ZoneInfo(data.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(("timezone", f"unknown time zone: {data.get('timezone')}"))
    return problems
