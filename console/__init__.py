"""The operator console: the staff-only admin pages (django-unfold), the health dashboard and
/metrics, and the operator's commands (bench, seed_demo). The top of the layers: it may read and
act on every app below it, and nothing below imports it (.importlinter)."""
