"""`manage.py serve`, `engine_worker` and `engine_pump`."""
