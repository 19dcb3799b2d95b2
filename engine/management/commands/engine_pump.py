"""Distributed mode: keep a token queued for every due instance (or use Celery beat).

The pump survives its database and broker going away: an interval that fails is logged, its
connections are dropped, and the next interval starts afresh."""
import logging
import time

from django.core.management.base import BaseCommand
from django.db import connections

from engine import clock, dispatch

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Wake due instances (timers, expired leases, lost messages) by sending Celery tasks."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval=1.0, once=False, **options):
        while True:
            started = time.monotonic()
            try:
                sent = dispatch.pump(now=clock.now())
            except Exception:
                log.warning("pump: this interval failed (database or broker away?); trying again", exc_info=True)
                connections.close_all()
                sent = 0
            if once:
                self.stdout.write(f"sent {sent}")
                return
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
