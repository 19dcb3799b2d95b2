"""`manage.py bench` and `manage.py seed_demo`."""
