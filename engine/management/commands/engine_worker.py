"""Run an embedded-mode worker: advance due instances from the database until stopped."""
from django.conf import settings
from django.core.management.base import BaseCommand

from engine import worker


class Command(BaseCommand):
    help = "Advance due workflow instances (embedded mode worker process)."

    def add_arguments(self, parser):
        parser.add_argument("--until-idle", action="store_true", help="exit when no instance is due")
        parser.add_argument("--memory-mb", type=int, default=settings.ENGINE_WORKER_MEMORY_MB,
                            help="OS cap (RLIMIT_DATA) on this process; 0 for none")

    def handle(self, *args, until_idle=False, memory_mb=0, **options):
        worker.cap_memory(memory_mb)
        name = worker.worker_name()
        self.stdout.write(f"worker {name} started", ending="\n")
        self.stdout.flush()
        count = worker.run(name=name, until_idle=until_idle)
        self.stdout.write(f"worker {name} advanced {count} instances")
