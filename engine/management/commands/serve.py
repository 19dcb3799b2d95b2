"""Embedded mode in one command: engine worker processes plus daphne on 127.0.0.1:8000.

Workers are separate processes with an OS memory cap, so tenant code can never take the web
server down; a worker that dies is replaced (engine.worker.Supervisor), and the instance it held is
recovered when its lease expires.
"""
from django.conf import settings
from django.core.management.base import BaseCommand

from engine.worker import Supervisor


class Command(BaseCommand):
    help = "Run the app in embedded mode: web server and engine workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.ENGINE_WORKERS)

    def handle(self, *args, host, port, workers, **options):
        supervisor = Supervisor(workers, memory_mb=settings.ENGINE_WORKER_MEMORY_MB)
        supervisor.start()
        self.stdout.write(f"embedded mode: {workers} engine workers; web on http://{host}:{port}/")
        try:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["-b", host, "-p", str(port), "config.asgi:application"])
        finally:
            supervisor.stop()
