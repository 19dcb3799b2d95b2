"""The tenants app's management commands."""
