#!/usr/bin/env bash
# The admin API's latency on a large store (docs/benchmarks.md, "API"):
# DEVICES devices written through the Store interface
# (beacon-bench-api-fill), a real central started on that store, and
# beacon-bench-api-load timing REQUESTS requests of each kind, one after
# another on one keep-alive TLS connection:
#   - the device list's first page (50 devices), a filtered page
#     (status=disconnected, sorted by -last_seen), a page of 500 from the
#     start and one deep in the list (after 150 pages of 500 followed by
#     their cursors: devices 75,001 to 75,500), a search (q);
#   - the device page /api/v1/devices/{id}, a different device each time;
#   - the summary;
# and two references in the same run: `beaconctl devices --json` over the
# same store (the whole list, computed per call, as an administrator gets it
# today), and nginx serving a static file as large as the first page, timed
# by the same client on the same kind of connection (TLS and HTTP alone).
#
#   bench/api/run.sh            (BUILD_DIR=build DEVICES=100000 REQUESTS=300)
#
# The server and the client share the machine's cores; on a busy machine run
# it twice and compare.
set -euo pipefail

me=api/run.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

BUILD_DIR=${BUILD_DIR:-$root/build}
DEVICES=${DEVICES:-100000}
REQUESTS=${REQUESTS:-300}

install_nginx
require_tools curl python3 cmake /usr/bin/time
beacon_bin=$BUILD_DIR/beacon/beacon
ctl_bin=$BUILD_DIR/beaconctl/beaconctl
fill_bin=$BUILD_DIR/bench/beacon-bench-api-fill
load_bin=$BUILD_DIR/bench/beacon-bench-api-load
echo "== building (-j2) in $BUILD_DIR"
cmake --build "$BUILD_DIR" -j2 --target beacon beaconctl beacon-bench-api-fill beacon-bench-api-load >/dev/null

tmp=$(mktemp -d /tmp/beacon-bench-api.XXXXXX)
cleanup_dirs+=("$tmp")
bench_trap
make_certs_and_policy "$tmp"
make_identities 0 central
data=$tmp/central
mkdir -p "$data"
cp -a "$estate/ca" "$data/ca"
"$ctl_bin" --data-dir "$data" --policy-dir "$tmp/policy" policy publish -m bench >/dev/null

echo "== filling the store with $DEVICES devices"
"$fill_bin" "$data/store.sqlite" "$DEVICES"
token=$("$ctl_bin" --data-dir "$data" token create --name bench --role read | grep -o 'bkt_[0-9a-f]\{64\}')

port=$(free_port)
admin=$(free_port)
{ beacon_conf central "$port" "$data" | grep -v '^admin_listen_port'
  echo "admin_listen_port = $admin"
  echo "store = sqlite"
  echo "policy_signing_key = $tmp/certs/policy.key"
} >"$data.conf"
"$beacon_bin" --config "$data.conf" >>"$tmp/central.log" 2>&1 &
central_pid=$!
pids+=("$central_pid")
wait_ping "$port" "$central_pid" "$tmp/central.log"
wait_ping "$admin" "$central_pid" "$tmp/central.log"

load() {  # LABEL [ARGS...] TARGET
  local label=$1
  shift
  printf '%-34s ' "$label"
  "$load_bin" --url "https://127.0.0.1:$admin" --ca "$ca" --token "$token" --requests "$REQUESTS" \
    --devices "$DEVICES" "$@"
}

echo "== the estate view's first read (the first request waits for it)"
/usr/bin/time -f "first request: %e s" curl -s -o /dev/null --cacert "$ca" -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$admin/api/v1/devices?limit=1"
rss_before=$(mib "$(status_kib VmRSS "$central_pid")")

echo "== API (p50/p90/p99/max over $REQUESTS requests each)"
load "devices, first page (50)" "/api/v1/devices"
load "devices, filtered page" "/api/v1/devices?status=disconnected&sort=-last_seen&limit=50"
load "devices, deep page (500, at 75,001)" --deep 150 "/api/v1/devices?limit=500"
load "devices, page of 500" "/api/v1/devices?limit=500"
load "devices, search q=host-0421" "/api/v1/devices?q=host-0421"
load "device page" "/api/v1/devices/{device}"
load "summary" "/api/v1/summary"
echo "central RSS: $rss_before MiB after the first view, $(mib "$(status_kib VmRSS "$central_pid")") MiB at the end"

echo "== reference: beaconctl devices --json (the whole list), 5 runs"
for i in 1 2 3 4 5; do
  /usr/bin/time -f "beaconctl devices --json: %e s, %M KiB peak" "$ctl_bin" --data-dir "$data" devices --json \
    >"$tmp/devices.json"
done
echo "   ($(wc -c <"$tmp/devices.json") bytes)"

echo "== reference: nginx, a static file as large as the first page"
first=$tmp/nginx/root/page.json
mkdir -p "$(dirname "$first")"
curl -s --cacert "$ca" -H "Authorization: Bearer $token" "https://127.0.0.1:$admin/api/v1/devices" >"$first"
nport=$(free_port)
write_nginx_conf "$tmp/nginx" "$nport" 64 "" "    location = /page.json { root $tmp/nginx/root; }"
start_nginx_dir "$tmp/nginx" "$nport" 0-1
"$load_bin" --url "https://127.0.0.1:$nport" --ca "$ca" --requests "$REQUESTS" "/page.json" |
  sed 's/^/nginx static page.json             /'
echo "   ($(wc -c <"$first") bytes)"
