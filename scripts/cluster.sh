#!/usr/bin/env bash
# Runs the replicated set-up on this machine without Docker, from Debian's packages, on 127.0.0.1
# only: a throwaway PostgreSQL 15 cluster, `gateway migrate`, the standalone provider simulator,
# gateway replicas on that database and nginx in front of them with docker/nginx/gateway.conf (the
# file Compose uses). Prints the URL and the credentials; Ctrl-C (or any exit) stops everything and
# removes the temporary folder.
#
#   bash scripts/cluster.sh                                  # 2 replicas, nginx on 127.0.0.1:8080
#   CLUSTER_PORT=9090 CLUSTER_REPLICAS=3 bash scripts/cluster.sh
#   GATEWAY_BINARY=/path/to/gateway bash scripts/cluster.sh  # default: .build/debug/gateway
#
# Run as root (PostgreSQL runs as the `postgres` user through runuser); needs postgresql-15 and
# nginx (scripts/setup.sh --with-test-tools installs them). Other gateway settings in the
# environment (LOG_LEVEL, LATE_GRACE_SECONDS, …) reach every replica.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
binary="${GATEWAY_BINARY:-$root/.build/debug/gateway}"
replicas="${CLUSTER_REPLICAS:-2}"
http_port="${CLUSTER_PORT:-8080}"
pg_bin=/usr/lib/postgresql/15/bin
start_timeout=60

die() { echo "cluster: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: PostgreSQL is started as the postgres user through runuser"
[ -x "$binary" ] || die "no gateway binary at $binary (swift build, or set GATEWAY_BINARY)"
for tool in initdb pg_ctl psql; do
  [ -x "$pg_bin/$tool" ] || die "$pg_bin/$tool is missing (scripts/setup.sh --with-test-tools installs postgresql-15)"
done
command -v nginx >/dev/null || die "nginx is missing (scripts/setup.sh --with-test-tools installs it)"
id -u postgres >/dev/null 2>&1 || die "the postgres user is missing (it comes with postgresql-15)"
[[ "$replicas" =~ ^[1-9]$ ]] || die "CLUSTER_REPLICAS must be 1 to 9"
[[ "$http_port" =~ ^[0-9]+$ ]] || die "CLUSTER_PORT must be a port number"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
# The status code of GET $2 on 127.0.0.1:$1, or nothing.
http_status() {
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 \
      && read -r -t 5 _ code _ <&3 && echo "$code" ) 2>/dev/null || true
}
is_ready() { [ "$(http_status "$1" /readyz)" = 200 ]; }
if ( exec 3<>"/dev/tcp/127.0.0.1/$http_port" ) 2>/dev/null; then
  die "127.0.0.1:$http_port is taken; choose another with CLUSTER_PORT"
fi

work="$(mktemp -d /tmp/gateway-cluster.XXXXXX)"
chmod 711 "$work"
pids=()
declare -A names=() logs=()
pg_started=false

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  echo "cluster: stopping"
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 25))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if $pg_started; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
  if [ "${CLUSTER_KEEP:-}" = 1 ]; then echo "cluster: kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME LOG COMMAND...: runs COMMAND in the background, its output in LOG.
start() {
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=("$!")
  names[$!]="$name"
  logs[$!]="$log"
}

# wait_for WHAT PID COMMAND...: until COMMAND succeeds, at most $start_timeout s, while PID runs.
wait_for() {
  local what="$1" pid="$2"
  shift 2
  local deadline=$((SECONDS + start_timeout))
  until "$@"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "${logs[$pid]}" >&2
      die "$what exited"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "$what not ready within $start_timeout s (logs in $work, kept with CLUSTER_KEEP=1)"
    sleep 0.2
  done
}

# ---- PostgreSQL 15, owned by the postgres user, on 127.0.0.1 and a free port.
pg_port="$(free_port)"
db_password="$(random_hex 16)"
mkdir -p "$work/pg"
chown postgres:postgres "$work/pg"
chmod 700 "$work/pg"
random_hex 16 >"$work/pg/superuser-password"
chown postgres:postgres "$work/pg/superuser-password"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg/data" -U postgres --pwfile="$work/pg/superuser-password" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$work/pg/initdb.log" 2>&1 \
  || { cat "$work/pg/initdb.log" >&2; die "initdb failed"; }
rm -f "$work/pg/superuser-password"
pg_started=true
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/postgres.log" -w -t "$start_timeout" \
  -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work/pg" start >/dev/null \
  || { tail -n 30 "$work/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
"$pg_bin/psql" -h "$work/pg" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtX \
  -c "CREATE ROLE gateway LOGIN PASSWORD '$db_password'" -c "CREATE DATABASE gateway OWNER gateway" >/dev/null
database_url="postgres://gateway:$db_password@127.0.0.1:$pg_port/gateway?sslmode=disable"

# ---- Migrations, once, before any replica.
DATABASE_URL="$database_url" timeout 120 "$binary" migrate >"$work/migrate.log" 2>&1 \
  || { cat "$work/migrate.log" >&2; die "gateway migrate failed"; }

# ---- The shared provider simulator.
simulator_port="$(free_port)"
simulator_key="$(random_hex 24)"
start simulator "$work/simulator.log" env SIMULATOR_HOST=127.0.0.1 SIMULATOR_PORT="$simulator_port" \
  SIMULATOR_API_KEY="$simulator_key" "$binary" simulator
simulator_pid="${pids[-1]}"
wait_for "the simulator" "$simulator_pid" grep -q "simulator listening" "$work/simulator.log"

# ---- A mail catcher when the test tools are installed (messages are printed to mail.log).
smtp=()
if [ -x .venv-tools/bin/python ] && .venv-tools/bin/python -c "import aiosmtpd" 2>/dev/null; then
  smtp_port="$(free_port)"
  start mail "$work/mail.log" .venv-tools/bin/python -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Debugging
  smtp=(SMTP_URL="smtp://127.0.0.1:$smtp_port" SMTP_FROM="noreply@gateway.localhost")
  wait_for "the mail catcher" "${pids[-1]}" bash -c "exec 3<>/dev/tcp/127.0.0.1/$smtp_port" 2>/dev/null
fi

# ---- The replicas.
scheduler_key="$(random_hex 24)"
attendant_secret="$(random_hex 32)"
outbox_key="$(head -c 32 /dev/urandom | base64 -w0)"
common=(DATABASE_URL="$database_url" SCHEDULER_API_KEYS="$scheduler_key" ATTENDANT_JWT_SECRET="$attendant_secret"
        OUTBOX_KEY="$outbox_key" HTTP_HOST=127.0.0.1 PUBLIC_BASE_URL="http://127.0.0.1:$http_port"
        TRUSTED_PROXIES=127.0.0.1/32 SIMULATOR_ENABLED=false DEFAULT_PROVIDER=daily
        DAILY_API_BASE_URL="http://127.0.0.1:$simulator_port/v1" DAILY_API_KEY="$simulator_key" "${smtp[@]}")
upstream=""
for n in $(seq 1 "$replicas"); do
  port="$(free_port)"
  start "replica-$n" "$work/replica-$n.log" env "${common[@]}" HTTP_PORT="$port" REPLICA_ID="replica-$n" "$binary" serve
  wait_for "replica-$n" "${pids[-1]}" is_ready "$port"
  upstream+="server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
done

# ---- nginx with docker/nginx/gateway.conf.
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log notice;
events { worker_connections 2048; }
http {
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    include $root/docker/nginx/gateway.conf;
}
EOF
printf '%s' "$upstream" >"$work/nginx/gateway-upstream.conf"
echo "listen 127.0.0.1:$http_port;" >"$work/nginx/gateway-listen.conf"
nginx_args=(-p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log")
nginx -t -q "${nginx_args[@]}" || die "nginx -t failed"
start nginx "$work/nginx/access.log" nginx "${nginx_args[@]}"
wait_for "nginx" "${pids[-1]}" is_ready "$http_port"

# ---- What to use.
token="$(ATTENDANT_JWT_SECRET="$attendant_secret" "$binary" token attendant --id a-17 --services '*' \
  --roles attendant,supervisor 2>/dev/null || echo "(token failed)")"
umask 077
cat >"$work/credentials.env" <<EOF
GATEWAY_URL=http://127.0.0.1:$http_port
SCHEDULER_API_KEYS=$scheduler_key
ATTENDANT_JWT_SECRET=$attendant_secret
ATTENDANT_TOKEN=$token
SIMULATOR_URL=http://127.0.0.1:$simulator_port
SIMULATOR_API_KEY=$simulator_key
DATABASE_URL=$database_url
EOF
cat <<EOF
cluster: ready at http://127.0.0.1:$http_port ($replicas replicas on PostgreSQL 15 behind nginx)
  scheduler key     $scheduler_key
  attendant token   $token
  console           http://127.0.0.1:$http_port/console
  simulator         http://127.0.0.1:$simulator_port (key $simulator_key)
  database          $database_url
  credentials       $work/credentials.env
  logs              $work/ (replica-N.log, simulator.log, migrate.log, nginx/, pg/postgres.log${smtp:+, mail.log})
Ctrl-C stops everything and removes $work.
EOF

# Until Ctrl-C, or until one of the processes ends on its own.
set +e
wait -n -p exited "${pids[@]}"
status=$?
echo "cluster: ${names[$exited]} exited with status $status; the end of its log:" >&2
tail -n 30 "${logs[$exited]}" >&2
exit 1
