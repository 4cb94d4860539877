#!/usr/bin/env bash
# A throwaway PostgreSQL to try several atlasent-server nodes on one machine
# (README: "Running more than one node"). Not for production: one cluster in
# target/pg-local/, on loopback only, with a random password.
#
#   eval "$(bash scripts/pg-local.sh start)"   # exports ATLASENT_DB (a postgres:// URL)
#   bash scripts/pg-local.sh stop              # stops it and deletes its data
#
# Installs Debian's `postgresql` package when no `initdb` is found (as root,
# or with sudo). As root, the cluster runs as `nobody` (initdb refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/target/pg-local"
port="${PGLOCAL_PORT:-55439}"

bin_dir() {
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"; return
  fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$found" ] && { echo "$found"; return; }
  echo "PostgreSQL not found: installing Debian's postgresql package" >&2
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2 && $sudo apt-get install -y -qq postgresql >&2
  ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    bin=$(bin_dir)
    if [ ! -d "$dir/data" ]; then
      rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"
      head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/password"
      [ "$(id -u)" -eq 0 ] && chown -R nobody: "$dir"
      as_owner "$bin/initdb" -D "$dir/data" --auth=scram-sha-256 -U atlasent \
        --pwfile="$dir/password" -E UTF8 --locale=C >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >&2
    password=$(cat "$dir/password")
    echo "export ATLASENT_DB=postgres://atlasent:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    bin=$(bin_dir)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >&2 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: bash scripts/pg-local.sh start|stop" >&2; exit 2 ;;
esac
