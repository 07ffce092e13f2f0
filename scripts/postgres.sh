#!/usr/bin/env bash
# Makes sure a PostgreSQL server is there for the tests and prints its URL (the value of
# TEST_POSTGRES_URL) on stdout; everything else goes to stderr.
#
# - A server answering on 127.0.0.1:5432 (as on these machines) is used as it is, as user
#   `postgres` with trust authentication.
# - Otherwise Debian's `postgresql` is installed if missing and a throwaway cluster is
#   started: initdb in a temp dir, trust auth, a free port on 127.0.0.1, run as the
#   `postgres` user when this script runs as root (PostgreSQL refuses to run as root).
#   If a file name is given as $1, the cluster's data directory is written there, so the
#   caller can stop it (`pg_ctl -D <dir> stop -m immediate`) and remove it.
# - `--throwaway FILE` always starts a throwaway cluster (for a test that stops and starts
#   its database server). Its settings are in the cluster's own postgresql.conf, so
#   `pg_ctl -D <dir> -l <dir>/../log -w start` brings it back on the same port.
# Tests create one database each (kefu_t_<random>) and drop it; nothing else is touched.
set -euo pipefail

throwaway=""
if [ "${1:-}" = "--throwaway" ]; then
  throwaway=1
  shift
fi
record="${1:-}"
say() { echo "postgres.sh: $*" >&2; }

if [ -z "$throwaway" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi
if [ -z "$throwaway" ] && ! command -v pg_isready >/dev/null && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  echo "postgres://postgres@127.0.0.1:5432/postgres"
  exit 0
fi

# Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<version>/bin.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(pg_bin)" ]; then
  say "no server on 127.0.0.1:5432; installing Debian's postgresql"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends postgresql >&2
  # The package may start its own cluster on 5432; use it if it did.
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "the package's cluster answers on 5432; its user postgres has peer auth only, so a throwaway cluster is started instead"
  fi
fi
bin="$(pg_bin)"

dir="$(mktemp -d /tmp/kefu-pg.XXXXXX)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  as_owner=(runuser -u postgres --)
fi
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
CONF
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >&2
[ -n "$record" ] && echo "$dir/data" >"$record"
say "throwaway cluster on 127.0.0.1:$port (data in $dir; stop: $bin/pg_ctl -D $dir/data stop)"
echo "postgres://postgres@127.0.0.1:$port/postgres"
