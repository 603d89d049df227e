# Sourced by .ci/test: start a throw-away PostgreSQL server on loopback and export its URL.
# Uses Debian's packages (installed when missing). PostgreSQL refuses to run as root, so as root the server runs
# as the `postgres` user. Stops itself when the calling shell exits (pg_stop is put on the EXIT trap).

pg_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

pg_install() {
  pg_bindir >/dev/null && return 0
  echo "== installing PostgreSQL (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || { echo "PostgreSQL could not be installed" >&2; return 1; }
}

as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  pg_install || return 1
  local bin port
  bin=$(pg_bindir)
  port=${FHIR_SERVER_TEST_POSTGRES_PORT:-55432}
  PG_TEST_DIR=$(mktemp -d /tmp/fhir-server-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_TEST_DIR"
  as_pg_user "$bin/initdb" -D "$PG_TEST_DIR/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null || return 1
  as_pg_user "$bin/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c max_connections=200" start >/dev/null || {
    cat "$PG_TEST_DIR/server.log" >&2; return 1; }
  export FHIR_SERVER_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  PG_TEST_BIN=$bin
  echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

pg_stop() {
  [ -n "${PG_TEST_DIR:-}" ] || return 0
  as_pg_user "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$PG_TEST_DIR"
  PG_TEST_DIR=
}
