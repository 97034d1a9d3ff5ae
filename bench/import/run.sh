#!/bin/sh
# The import benchmark on both backends in one run (docs/benchmarks.md,
# "Import"): a fresh SQLite store, a fresh PostgreSQL 15 database started
# here (initdb and pg_ctl in a temporary folder, Unix socket only, fsync
# on, as the postgres user when run as root), and the raw-SQLite reference;
# once with one inventory per transaction and once in the importer's
# batches of 64.
#
#   bench/import/run.sh [BUILD_DIR] [DEVICES]      (default: build 200)
set -eu
build=${1:-build}
devices=${2:-200}
bench="$build/bench/beacon-bench-import"
bin=/usr/lib/postgresql/15/bin
[ -x "$bench" ] || { echo "missing $bench: make -C $build beacon-bench-import" >&2; exit 1; }
[ -x "$bin/initdb" ] || { echo "missing $bin/initdb: apt-get install postgresql" >&2; exit 1; }
work=$(mktemp -d /tmp/beacon-bench-import-XXXXXX)
as=""
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$work"
  as="runuser -u postgres --"
fi
stop() {
  $as "$bin/pg_ctl" stop -D "$work/pg" -m fast >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop EXIT
$as "$bin/initdb" -D "$work/pg" -U postgres -A trust >/dev/null
$as "$bin/pg_ctl" start -w -D "$work/pg" -l "$work/pg.log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$work' -c fsync=on" >/dev/null
mkdir -p "$work/sqlite" && chmod 777 "$work/sqlite"
for batch in 1 64; do
  $as "$bin/createdb" -h "$work" -U postgres "bench$batch"
  "$bench" "$work/sqlite" "$devices" 1500 "$batch" "host=$work dbname=bench$batch user=postgres"
done
