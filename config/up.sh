#!/usr/bin/env bash
# Sets up and starts the app in embedded mode: installs the Python and npm packages, builds the
# editor, migrates SQLite,
# seeds the demo tenant (user demo / demo) and sample workflows, then serves on 127.0.0.1:8000
# with engine worker processes. Nothing else to install or start.
set -euo pipefail
cd "$(dirname "$0")/.."
# The embedded demo: the demo user (demo / demo) and the sign-in page's label exist only with DEMO on.
export DEMO="${DEMO:-1}"
source config/install.sh
source config/build_frontend.sh
install_python
build_frontend
# The first settings load generates this install's own keys into VAR_DIR and keeps them: secret.key
# (Django's SECRET_KEY, unless SECRET_KEY is set) and, on first use, secrets.key (unless SECRETS_KEYS).
.venv/bin/python manage.py migrate --noinput
test -s "${VAR_DIR:-var}/secret.key" || test -n "${SECRET_KEY:-}"
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo
exec .venv/bin/python manage.py serve "$@"
