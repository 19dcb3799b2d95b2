"""Tenants: who owns every row and who may do what: accounts, memberships, API keys, secrets,
plan limits, quotas and usage, the audit log.

Layer: the bottom. It imports no other app (.importlinter); what a tenant's suspension means to
the apps above they say in settings (TENANT_SUSPEND_HOOKS)."""
