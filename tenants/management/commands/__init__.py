"""`manage.py rotate_secrets`."""
