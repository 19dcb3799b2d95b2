"""The builder's management commands."""
