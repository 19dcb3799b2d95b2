"""`manage.py export_openapi` (the API schema the editor's client types are generated from)."""
