#!/usr/bin/env bash
# The performance suite (issue 8) end to end, the way users run the server: a throw-away PostgreSQL (as
# .ci/postgres.sh starts it), then `python -m bench.perf` (bench/perf/runner.py), which migrates and fills the
# database, starts `fhir-server serve --workers 2` and the framework ceiling (bench/perf/ceiling.py), drives each
# scenario with wrk and prints a Markdown table. Everything is stopped on exit.
#
# Usage, from the repository root:
#   bench/perf/run.sh [--sqlite] [--data synthetic|demo] [--patients 2000] [--scenario all|read,search-name,...]
#                     [--seconds 10] [--connections 32] [any other option of `python -m bench.perf --help`]
# --sqlite serves from a throw-away SQLite file instead. Environment: BENCH_PG_PORT (55471), BENCH_HTTP_PORT
# (58471), BENCH_CEILING_PORT (58472). Needs wrk (Debian: apt-get install wrk, or .ci/wrk.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
sqlite=0 args=() database=()
for arg in "$@"; do
  if [ "$arg" = --sqlite ]; then sqlite=1; else args+=("$arg"); fi
done
work=$(mktemp -d /tmp/fhir-perf-bench.XXXXXX)

cleanup() {
  [ "$sqlite" = 1 ] || pg_stop
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$sqlite" = 1 ]; then
  url="sqlite:///$work/bench.db"
else
  # shellcheck source=/dev/null
  source .ci/postgres.sh
  FHIR_SERVER_TEST_POSTGRES_PORT=${BENCH_PG_PORT:-55471} pg_start
  "$PG_TEST_BIN/psql" -q -h 127.0.0.1 -p "${BENCH_PG_PORT:-55471}" -U postgres -c "CREATE DATABASE fhir_bench"
  url="${FHIR_SERVER_TEST_POSTGRES_URL%/postgres}/fhir_bench"
  database=(--postgres-data "$PG_TEST_DIR/data")  # only this run's PostgreSQL: its CPU per request is reported
fi

# The server and the suite run the code of this checkout, whatever the virtualenv's editable install points at.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
BENCH_COMMAND="bench/perf/run.sh $*" .venv/bin/python -m bench.perf --database-url "$url" \
  --port "${BENCH_HTTP_PORT:-58471}" --ceiling-port "${BENCH_CEILING_PORT:-58472}" "${database[@]}" "${args[@]}"
