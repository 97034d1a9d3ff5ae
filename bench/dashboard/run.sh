#!/usr/bin/env bash
# The dashboard's first page load in headless Chromium on a large store
# (docs/benchmarks.md, "Dashboard"): DEVICES devices written through the
# Store interface (beacon-bench-api-fill, the API benchmark's generator), a
# real central on that store, and page_load.py timing RUNS cold loads of the
# summary and of the device list, each in a new browser, and the click from
# one to the other.
#
#   bench/dashboard/run.sh      (BUILD_DIR=build DEVICES=100000 RUNS=5 [DATA_DIR=DIR])
#
# Needs chromium, chromium-driver and python3-selenium (scripts/install-deps.sh).
# The browser, the central and the store share the machine's cores.
set -euo pipefail

me=dashboard/run.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

BUILD_DIR=${BUILD_DIR:-$root/build}
DEVICES=${DEVICES:-100000}
RUNS=${RUNS:-5}

require_tools curl cmake /usr/bin/time /usr/bin/chromium /usr/bin/chromedriver
/usr/bin/python3 -c 'import selenium' 2>/dev/null || die "python3-selenium is missing (scripts/install-deps.sh)"
beacon_bin=$BUILD_DIR/beacon/beacon
ctl_bin=$BUILD_DIR/beaconctl/beaconctl
fill_bin=$BUILD_DIR/bench/beacon-bench-api-fill
echo "== building (-j2) in $BUILD_DIR"
cmake --build "$BUILD_DIR" -j2 --target beacon beaconctl beacon-bench-api-fill >/dev/null

# DATA_DIR=DIR keeps the estate (certificates, the filled store, the token)
# there, and a later run with the same DATA_DIR starts from it without
# filling the store again.
if [[ -n ${DATA_DIR:-} ]]; then
  tmp=$(mkdir -p "$DATA_DIR" && cd "$DATA_DIR" && pwd)
else
  tmp=$(mktemp -d /tmp/beacon-bench-dashboard.XXXXXX)
  cleanup_dirs+=("$tmp")
fi
bench_trap
data=$tmp/central
if [[ -f $tmp/token ]]; then
  echo "== reusing the estate in $tmp"
  pki=$tmp/pki
  ca=$pki/ca.pem
  load_cert=()
else
  make_certs_and_policy "$tmp"
  make_identities 0 central
  mkdir -p "$data"
  cp -a "$estate/ca" "$data/ca"
  "$ctl_bin" --data-dir "$data" --policy-dir "$tmp/policy" policy publish -m bench >/dev/null
  echo "== filling the store with $DEVICES devices"
  "$fill_bin" "$data/store.sqlite" "$DEVICES"
  "$ctl_bin" --data-dir "$data" token create --name bench --role read | grep -o 'bkt_[0-9a-f]\{64\}' >"$tmp/token"
fi
token=$(cat "$tmp/token")
rm -f "$tmp/central.log"

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
wait_ping "$admin" "$central_pid" "$tmp/central.log"

echo "== the estate view's first read (the first request waits for it; the runs below do not)"
/usr/bin/time -f "first request: %e s" curl -s -o /dev/null --cacert "$ca" -H "Authorization: Bearer $token" \
  "https://127.0.0.1:$admin/api/v1/devices?limit=1"

echo "== page loads in Chromium ($RUNS runs each, a new browser and an empty cache each time)"
/usr/bin/python3 "$here/dashboard/page_load.py" --url "https://127.0.0.1:$admin/" --token "$token" \
  --cert "$pki/central.pem" --runs "$RUNS"
