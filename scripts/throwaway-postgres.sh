#!/usr/bin/env bash
# A PostgreSQL cluster of its own for the tests: initdb + pg_ctl on a temporary folder,
# listening on 127.0.0.1 at a free port, with the superuser `jury` and no password.
#
#   scripts/throwaway-postgres.sh start DIR   # prints the cluster's URL
#   scripts/throwaway-postgres.sh stop DIR
#
# Installs Debian's postgresql package when no PostgreSQL server is on the machine.
set -euo pipefail

action=${1:?start or stop}
dir=${2:?a folder for the cluster}

bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$found" ] && command -v initdb >/dev/null; then found=$(dirname "$(command -v initdb)"); fi
    echo "$found"
}

# initdb refuses to run as root: there the cluster belongs to the `postgres` user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
    bin=$(bin_dir)
    if [ -z "$bin" ]; then
        sudo=$([ "$(id -u)" = 0 ] || echo sudo)
        $sudo apt-get update -qq >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
        bin=$(bin_dir)
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U jury --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # Durability is not wanted from a cluster that is thrown away: the tests run faster without it.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=500 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://jury@127.0.0.1:$port/postgres"
    ;;
stop)
    bin=$(bin_dir)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
