"""Start real processes (engine workers, Celery workers) against the test database."""
import os
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def log_dir() -> Path:
    """Where started processes log: under VAR_DIR, so two suites run side by side (config/test.sh
    runs the embedded and distributed suites at once, each with its own VAR_DIR) never read each
    other's lines."""
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "test-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=test_database_url(), PYTHONUNBUFFERED="1", **extra)
    return env


def start(args: list[str], log_name: str, **env: str) -> subprocess.Popen:
    log = open(log_dir() / f"{log_name}.log", "ab")
    return subprocess.Popen(args, cwd=ROOT, env=child_env(**env), stdout=log, stderr=subprocess.STDOUT)


def start_engine_worker(log_name: str, **env: str) -> subprocess.Popen:
    return start([sys.executable, "manage.py", "engine_worker"], log_name, **env)


def start_celery_worker(log_name: str, *, concurrency: int = 2, **env: str) -> subprocess.Popen:
    """A real Celery worker of the project (prefork, `concurrency` processes), quiet and without
    the cluster chatter (gossip, mingle, heartbeats) that only slows its start."""
    return start([sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-c", str(concurrency), "-l", "warning",
                  "--without-gossip", "--without-mingle", "--without-heartbeat"], log_name, **env)


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def wait_progressing(predicate, progress, stall: float = 120, what: str = "condition"):
    """wait_for, where the time limit restarts whenever progress() changes: for a condition that
    waits behind other work (a backlog draining), which a loaded machine makes slower but not stuck.
    Fails only once nothing moved for `stall` seconds."""
    seen, deadline = progress(), time.monotonic() + stall
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        now = progress()
        if now != seen:
            seen, deadline = now, time.monotonic() + stall
        time.sleep(0.05)
    raise AssertionError(f"nothing moved for {stall}s while waiting for {what}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_daphne(log_name: str, *, port: int = 0, args: list[str] | None = None, **env: str) -> tuple[subprocess.Popen, int]:
    """daphne (or `args`, e.g. manage.py serve, given `--port` itself) on loopback; returns (process, port).

    Port 0 lets the server bind a free port itself, read back from its "Listening on" log line, so
    no other process can take the port between a test choosing it and the server binding it. A
    given port (a restart on the same address) is retried while the previous server still holds it.
    """
    import re

    log_path = log_dir() / f"{log_name}.log"
    for _ in range(50):
        offset = log_path.stat().st_size if log_path.exists() else 0
        command = args or [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        proc = start(command, log_name, **env)

        def listening():
            if proc.poll() is not None:
                return -1
            with open(log_path, "rb") as f:
                f.seek(offset)
                found = re.search(rb"Listening on TCP address 127\.0\.0\.1:(\d+)", f.read())
            return int(found.group(1)) if found else None

        bound = wait_for(listening, timeout=60, what=f"{log_name} to listen")
        if bound > 0:
            return proc, bound
        time.sleep(0.1)  # the port was still held (a restart): try again
    raise AssertionError(f"{log_name} could not bind port {port}")
