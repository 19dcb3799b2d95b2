"""The engine's management commands."""
