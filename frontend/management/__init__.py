"""The editor's management commands."""
