"""Distributed mode: send a Celery task for every due instance, every second (or use Celery beat)."""
import time

from django.core.management.base import BaseCommand

from engine import clock, dispatch


class Command(BaseCommand):
    help = "Wake due instances (timers, expired leases, lost messages) by sending Celery tasks."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval=1.0, once=False, **options):
        while True:
            sent = dispatch.pump(now=clock.now())
            if once:
                self.stdout.write(f"sent {sent}")
                return
            time.sleep(interval)
