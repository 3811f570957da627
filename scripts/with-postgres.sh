#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster on 127.0.0.1, exported to it as
# FRONTDESK_TEST_POSTGRES (an admin URL; tests create a database of their own on it).
# Uses Debian's `postgresql` package (scripts/apt-packages.txt). initdb refuses to run as root,
# so as root the cluster belongs to the `postgres` user. The cluster is removed afterwards.
# When FRONTDESK_TEST_POSTGRES is already set, the command runs against that server instead.
set -euo pipefail
if [[ -n "${FRONTDESK_TEST_POSTGRES:-}" ]]; then exec "$@"; fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
  echo "PostgreSQL server binaries not found (install Debian's postgresql package: bash scripts/install-deps.sh)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/frontdesk-pg.XXXXXX)
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U frontdesk -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# A free port: ask the kernel for one, then hand it to the server.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c shared_buffers=256MB" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
export FRONTDESK_TEST_POSTGRES="postgres://frontdesk@127.0.0.1:$port/postgres"
# For tests that restart the server: where it lives and how to control it.
export FRONTDESK_TEST_POSTGRES_CTL="${as_owner[*]:+${as_owner[*]} }$bin/pg_ctl -D $dir/data"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throw-away cluster in $dir)"
"$@"
