#!/usr/bin/env bash
# A local distributed stack for trying distributed mode on one machine, all on loopback:
# PostgreSQL (a private cluster in var/dist/pg, kept between runs), Redis, Celery workers, the
# pump and daphne, with the demo tenant (demo / demo). Ctrl-C stops everything it started.
#   bash config/dist.sh                       # web on http://127.0.0.1:8000/
#   WORKERS=4 WEB_PORT=8001 bash config/dist.sh
# Ports: DIST_PG_PORT (5434), DIST_REDIS_PORT (6391), WEB_PORT (8000); WORKERS: Celery processes (2).
# Installs what it needs first, like config/up.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source config/install.sh
source config/build_frontend.sh
if [ "${SKIP_INSTALL:-}" != 1 ]; then  # SKIP_INSTALL=1: packages, venv and editor already in place
  install_system_packages redis-server postgresql
  install_python
  build_frontend
fi

PG_PORT=${DIST_PG_PORT:-5434}
REDIS_PORT=${DIST_REDIS_PORT:-6391}
WEB_PORT=${WEB_PORT:-8000}
WORKERS=${WORKERS:-2}
DIR=$ROOT/var/dist
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$DIR" && chmod 755 "$ROOT/var" "$DIR"
PIDS=()
stop() {
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  su postgres -c "$PGBIN/pg_ctl -D $DIR/pg -m fast stop" >/dev/null 2>&1 || true
  echo "distributed stack stopped"
}
trap stop EXIT INT TERM

# PostgreSQL: the cluster belongs to the postgres user (initdb refuses root).
chown postgres:postgres "$DIR"
[ -d "$DIR/pg" ] || su postgres -c "$PGBIN/initdb -D $DIR/pg -U postgres --auth=trust -E UTF8" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $DIR/pg -l $DIR/pg.log -w -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$DIR' start" >/dev/null
su postgres -c "psql -h 127.0.0.1 -p $PG_PORT -U postgres -tc \"SELECT 1 FROM pg_database WHERE datname = 'workflows'\"" | grep -q 1 \
  || su postgres -c "createdb -h 127.0.0.1 -p $PG_PORT -U postgres workflows"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no >"$DIR/redis.log" 2>&1 &
PIDS+=($!)

export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/workflows"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export DEMO="${DEMO:-1}"  # loopback only: the demo user to sign in with
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo

# The parts of a distributed deployment, each a process you would run on its own machines.
.venv/bin/celery -A config.celery worker -c "$WORKERS" -l warning --without-gossip --without-mingle &
PIDS+=($!)
.venv/bin/python manage.py engine_pump &
PIDS+=($!)
.venv/bin/daphne -b 127.0.0.1 -p "$WEB_PORT" config.asgi:application &
PIDS+=($!)
echo "distributed mode: PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, $WORKERS Celery worker processes, pump;"
echo "web on http://127.0.0.1:$WEB_PORT/editor/ (demo / demo). Ctrl-C stops it."
wait -n "${PIDS[@]}"
