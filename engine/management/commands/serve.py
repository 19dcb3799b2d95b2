"""Embedded mode in one command: engine worker processes plus daphne on 127.0.0.1:8000.

Workers are separate processes with an OS memory cap, so tenant code can never take the web
server down; a worker that dies (killed by the cap, or crashed) is replaced, and the instance it
held is recovered when its lease expires.
"""
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the app in embedded mode: web server and engine workers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.ENGINE_WORKERS)

    def handle(self, *args, host, port, workers, **options):
        stopping = threading.Event()
        procs: list[subprocess.Popen] = []
        cmd = [sys.executable, os.path.join(settings.BASE_DIR, "manage.py"), "engine_worker"]

        def supervise(slot: int) -> None:
            while not stopping.is_set():
                proc = subprocess.Popen(cmd)
                procs.append(proc)
                code = proc.wait()
                if not stopping.is_set():
                    self.stderr.write(f"engine worker {slot} exited with {code}; starting another")
                    time.sleep(1)

        for slot in range(workers):
            threading.Thread(target=supervise, args=(slot,), daemon=True).start()
        self.stdout.write(f"embedded mode: {workers} engine workers; web on http://{host}:{port}/")
        try:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["-b", host, "-p", str(port), "config.asgi:application"])
        finally:
            stopping.set()
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
