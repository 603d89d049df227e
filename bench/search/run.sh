#!/usr/bin/env bash
# Search benchmark end to end, the way users run the server: a throw-away PostgreSQL (as .ci/postgres.sh starts
# it), `fhir-server db upgrade`, `fhir-server clinics create`, `fhir-server serve --workers 2` with authorization
# disabled, then the load (bench/search/load.py) and the queries (bench/search/queries.py); everything is stopped on
# exit.
#
# Usage, from the repository root:
#   bench/search/run.sh --patients N [--appointments 2] [--concurrency 4] [--repeat 200] [--workers 2] [--sqlite]
# --sqlite serves from a throw-away SQLite file instead of PostgreSQL. Environment: BENCH_PG_PORT (55447),
# BENCH_HTTP_PORT (58447); BENCH_EXPLAIN_MS=<ms> (PostgreSQL only): during the queries, PostgreSQL's auto_explain
# logs the plan (EXPLAIN ANALYZE, no timing) of every statement slower than that; the plans are printed at the end.
set -euo pipefail

patients=10000 appointments=2 concurrency=4 repeat=200 workers=2 sqlite=0
while [ $# -gt 0 ]; do
  case "$1" in
    --patients) patients=$2; shift 2 ;;
    --appointments) appointments=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --sqlite) sqlite=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=.venv/bin
http_port=${BENCH_HTTP_PORT:-58447}
work=$(mktemp -d /tmp/fhir-search-bench.XXXXXX)
server_pid=

pg_sql() {  # one session: each argument a statement
  local statement args=()
  for statement in "$@"; do args+=(-c "$statement"); done
  "$PG_TEST_BIN/psql" -q -h 127.0.0.1 -p "${BENCH_PG_PORT:-55447}" -U postgres "${args[@]}"
}

cleanup() {
  local status=$?
  if [ "$status" != 0 ] && [ -f "$work/server.log" ]; then
    echo "== failed ($status): the server's log ends with" >&2
    tail -n 60 "$work/server.log" >&2
  fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  [ "$sqlite" = 1 ] || pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$sqlite" = 1 ]; then
  export FHIR_SERVER_DATABASE_URL="sqlite:///$work/bench.db"
else
  # shellcheck source=/dev/null
  source .ci/postgres.sh
  FHIR_SERVER_TEST_POSTGRES_PORT=${BENCH_PG_PORT:-55447} pg_start
  pg_sql "CREATE DATABASE fhir_bench"
  export FHIR_SERVER_DATABASE_URL="${FHIR_SERVER_TEST_POSTGRES_URL%/postgres}/fhir_bench"
  [ -z "${BENCH_EXPLAIN_MS:-}" ] || pg_sql "LOAD 'auto_explain'" "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
    "ALTER SYSTEM SET auto_explain.log_analyze = on" "ALTER SYSTEM SET auto_explain.log_timing = off"
fi
echo "== $(date -u +%FT%TZ) nproc=$(nproc) mem=$(free -g | awk '/Mem:/ {print $2}')G load:$(uptime | sed 's/.*load average://')"
echo "== database: ${FHIR_SERVER_DATABASE_URL%%:*}, $workers workers, $patients patients x $appointments appointments"
"$venv/fhir-server" db upgrade
"$venv/fhir-server" clinics create --name "Benchmark Clinic"

export FHIR_SERVER_AUTH=disabled FHIR_SERVER_LOG_LEVEL=warning
export FHIR_SERVER_BASE_URL="http://127.0.0.1:$http_port/fhir"
"$venv/fhir-server" serve --workers "$workers" --port "$http_port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done

echo "== load"
"$venv/python" -m bench.search.load --base-url "$FHIR_SERVER_BASE_URL" --patients "$patients" \
  --appointments "$appointments" --concurrency "$concurrency"
echo "== queries  load:$(uptime | sed 's/.*load average://')"
explaining=0
if [ -n "${BENCH_EXPLAIN_MS:-}" ] && [ "$sqlite" = 0 ]; then
  pg_sql "LOAD 'auto_explain'" "ALTER SYSTEM SET auto_explain.log_min_duration = ${BENCH_EXPLAIN_MS}" "SELECT pg_reload_conf()" >/dev/null
  explaining=$(wc -l <"$PG_TEST_DIR/server.log")
fi
"$venv/python" -m bench.search.queries --base-url "$FHIR_SERVER_BASE_URL" --patients "$patients" \
  --repeat "$repeat" --concurrency "$concurrency"
if [ "$explaining" != 0 ]; then
  echo "== plans of the statements slower than ${BENCH_EXPLAIN_MS} ms during the queries (auto_explain)"
  tail -n "+$((explaining + 1))" "$PG_TEST_DIR/server.log"
fi
echo "== done $(date -u +%FT%TZ) load:$(uptime | sed 's/.*load average://')"
