#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and benchmarks, loopback only, in a directory of its own.
#
#   pg-test-server.sh start DIR   initdb into DIR (if new), start on a free 127.0.0.1 port with
#                                 its socket in DIR, load scripts/pg-schema.sql; prints the URL
#   pg-test-server.sh stop DIR    fast shutdown (the data stays; start again reuses the port)
#   pg-test-server.sh kill DIR    stop, then remove DIR
#
# PostgreSQL refuses to run as root: as root, initdb and the server run as the `postgres`
# user (created by Debian's postgresql package), which then owns DIR. Exits 77 (skip) when
# PostgreSQL is not installed.
set -euo pipefail

cmd=${1:?usage: pg-test-server.sh start|stop|kill DIR}
dir=${2:?usage: pg-test-server.sh start|stop|kill DIR}
here=$(cd "$(dirname "$0")" && pwd)
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[[ -n "$bindir" && -x "$bindir/initdb" && -x "$bindir/pg_ctl" ]] || exit 77

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_start() {
    local port=$1
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
}

case "$cmd" in
start)
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
        # The postgres user must reach DIR: a private temporary parent (mktemp -d) is not.
        chmod a+x "$(dirname "$dir")"
    fi
    if [[ ! -d "$dir/data" ]]; then
        as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
            --no-sync >"$dir/initdb.log" 2>&1
    fi
    if [[ -f "$dir/port" ]]; then
        port=$(cat "$dir/port")
        as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || server_start "$port"
    else
        # Another process may take the port between the probe and the bind: try a few.
        for _ in 1 2 3 4 5; do
            port=$(free_port)
            if server_start "$port"; then
                echo "$port" >"$dir/port"
                break
            fi
            port=""
        done
        [[ -n "$port" ]] || { cat "$dir/server.log" >&2; exit 1; }
        PGOPTIONS="-c client_min_messages=warning" PGCONNECT_TIMEOUT=10 psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
            -d postgres -f "$here/pg-schema.sql" >/dev/null
    fi
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    ;;
kill)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: pg-test-server.sh start|stop|kill DIR" >&2
    exit 2
    ;;
esac
