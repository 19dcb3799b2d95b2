#!/usr/bin/env bash
# Runs every test, on a fresh Debian machine as root or on a developer's: installs what the tests
# need, starts PostgreSQL and Redis on loopback (stopped again on exit), then runs the suite twice:
# embedded mode on SQLite, and distributed mode on PostgreSQL + Redis + Celery.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source config/install.sh
source config/build_frontend.sh
install_system_packages redis-server postgresql chromium
install_python
build_frontend

RUN=$(mktemp -d /tmp/dw-test-XXXXXX)
PG_PORT=${PG_PORT:-5433}
REDIS_PORT=${REDIS_PORT:-6390}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  [ -f "$RUN/redis.pid" ] && kill "$(cat "$RUN/redis.pid")" 2>/dev/null || true
  [ -d "$RUN/pg" ] && su postgres -c "$PGBIN/pg_ctl -D $RUN/pg -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$RUN"
}
trap cleanup EXIT

chown postgres:postgres "$RUN"
su postgres -c "$PGBIN/initdb -D $RUN/pg -U postgres --auth=trust -E UTF8" >/dev/null
su postgres -c "$PGBIN/pg_ctl -D $RUN/pg -l $RUN/pg.log -w -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$RUN -c fsync=off' start" >/dev/null
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no >"$RUN/redis.log" 2>&1 &
echo $! >"$RUN/redis.pid"

# Deterministic: hypothesis (and schemathesis, built on it) runs the derandomized "ci" profile, every
# test has pytest-timeout's limit. `HYPOTHESIS_PROFILE=explore bash config/test.sh` explores with
# random seeds and more examples; `bash config/test.sh -p random_order --random-order` shuffles the order.
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
# Coverage of lines and branches, worker processes included (pyproject's [tool.coverage.run]).
COVERAGE=(.venv/bin/python -m coverage)
rm -rf var/coverage && mkdir -p var/coverage

status=0
echo "== layers (import-linter, .importlinter) =="
.venv/bin/lint-imports || status=$?
echo "== editor unit tests (vitest) =="
(cd frontend && npm test --silent) || status=$?
# The two suites run side by side (much of each one's time is spent waiting on the processes and
# browsers it starts; SIDE_BY_SIDE=0 runs them one after the other): each has its own VAR_DIR (SQLite
# database, wake and live sockets, process logs, keys), and they share only the compiled sandbox
# module (written atomically). The embedded suite prints as it goes; the distributed one's output follows.
DIST_VAR=$ROOT/var/distributed
rm -rf "$DIST_VAR" && mkdir -p "$DIST_VAR"
distributed_suite() {
  VAR_DIR=$DIST_VAR ENGINE_CACHE_DIR=$ROOT/var/cache \
    DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/workflows" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
    "${COVERAGE[@]}" run -m pytest "$@"
}
if [ "${SIDE_BY_SIDE:-1}" = 1 ]; then
  distributed_suite "$@" >"$RUN/distributed.log" 2>&1 &
  distributed=$!
fi
echo "== embedded mode: SQLite =="
env -u DATABASE_URL -u REDIS_URL "${COVERAGE[@]}" run -m pytest "$@" || status=$?
echo "== distributed mode: PostgreSQL, Redis, Celery =="
if [ "${SIDE_BY_SIDE:-1}" = 1 ]; then
  wait "$distributed" || status=$?
  cat "$RUN/distributed.log"
else
  distributed_suite "$@" || status=$?
fi
echo "== coverage (lines and branches, both suites, worker processes included) =="
"${COVERAGE[@]}" combine -q && "${COVERAGE[@]}" report --sort=cover || true
exit $status
