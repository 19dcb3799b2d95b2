"""The documented production configuration (README "Production") passes `manage.py check --deploy`
with no warning, and a fresh install makes and keeps its own SECRET_KEY."""
import os
import subprocess
import sys

from tests.processes import ROOT


def run_check(tmp_path, **env) -> subprocess.CompletedProcess:
    child = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "HTTPS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    # (the browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never does)
    child.update(VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1", **env)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=child, capture_output=True, text=True, timeout=120)


def test_the_production_configuration_passes_check_deploy(tmp_path):
    done = run_check(tmp_path, HTTPS="true", ALLOWED_HOSTS="workflows.example.com")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_embedded_defaults_are_not_mistaken_for_production(tmp_path):
    done = run_check(tmp_path)
    assert done.returncode != 0 and "SESSION_COOKIE_SECURE" in done.stdout + done.stderr


def test_a_fresh_install_generates_and_keeps_its_own_secret_key(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"VAR_DIR": str(tmp_path / "a"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    first = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120).stdout.strip()
    again = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120).stdout.strip()
    other = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                           env=env | {"VAR_DIR": str(tmp_path / "b")}, capture_output=True, text=True, timeout=120).stdout.strip()
    assert len(first) >= 50 and first == again != other
    assert (tmp_path / "a" / "secret.key").stat().st_mode & 0o077 == 0  # readable by its owner only
    given = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                           env=env | {"SECRET_KEY": "k" * 60}, capture_output=True, text=True, timeout=120).stdout.strip()
    assert given == "k" * 60
