"""Imported once by the workers' forkserver (engine.worker.Supervisor): Django set up and the
engine imported, so forked workers start warm. No wasmtime engine, no database connection here:
neither should be shared across a fork."""
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from engine import runner, worker  # noqa: E402,F401
