#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests: `scripts/postgres.sh start DIR` creates a cluster in DIR
# (initdb runs as the `postgres` user: it refuses root), listening on a free loopback port and on a
# Unix socket in DIR/socket, with trust authentication (loopback and socket only), and prints the
# DATABASE_URL of its `postgres` database; `scripts/postgres.sh stop DIR` stops it.
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
action="${1:?start|stop}"
dir="${2:?data directory}"
as_postgres() {
  # From / : the `postgres` user may not enter the caller's directory.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
case "$action" in
  start)
    [ -x "$bin/initdb" ] || { echo "PostgreSQL 15 is not installed ($bin/initdb): apt-get install postgresql-15" >&2; exit 1; }
    mkdir -p "$dir/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    chmod 755 "$dir" "$dir/socket"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/socket'
max_connections = 300
fsync = on
CONF
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
