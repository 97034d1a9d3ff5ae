#!/bin/bash
# The first README command: install what is missing, build, and run one full
# cycle on loopback: an estate CA, beacon certificates, an enrollment secret,
# a central, a DMZ relay beacon and one client that enrolls through the relay,
# then reports; then print what the store holds about the device and stop
# everything it started.
#   CENTRAL_PORT / DMZ_PORT / ADMIN_PORT override the ports (default 18443 / 18444 / 18445).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target beacon beacon-client beaconctl
bin=$root/build

central_port=${CENTRAL_PORT:-18443}
dmz_port=${DMZ_PORT:-18444}
admin_port=${ADMIN_PORT:-18445}
for port in "$central_port" "$dmz_port" "$admin_port"; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    echo "port $port is in use; set CENTRAL_PORT / DMZ_PORT / ADMIN_PORT to free ports" >&2
    exit 1
  fi
done

work=$root/build/quickstart
rm -rf "$work"
mkdir -p "$work/central/policy"
ctl=("$bin/beaconctl/beaconctl" --data-dir "$work/central")
echo "== the estate CA (ECDSA P-256) in $work/central/ca, beacon certificates in $work/pki"
"${ctl[@]}" ca init --name "Quickstart Estate CA"
"${ctl[@]}" beacon issue central --host 127.0.0.1 --host localhost --out "$work/pki" >/dev/null
"${ctl[@]}" beacon issue dmz --host 127.0.0.1 --host localhost --out "$work/pki" >/dev/null
echo "== an enrollment secret for one device (beaconctl enroll secret create --uses 1 --expires 1h)"
secret=$("${ctl[@]}" enroll secret create --uses 1 --expires 1h --label quickstart)
echo "== the policy signing key (Ed25519) in $work/certs"
./scripts/make-certs.sh "$work/certs" 127.0.0.1 localhost
cp -r conf/policy/. "$work/central/policy/"
# conf/policy/default/failover.xml names example hosts; here every client uses the DMZ beacon.
printf '<failover version="1">\n  <beacon url="https://127.0.0.1:%s" priority="0"/>\n</failover>\n' "$dmz_port" \
  > "$work/central/policy/default/failover.xml"

cat > "$work/central.conf" <<CONF
name = central
listen_host = 127.0.0.1
listen_port = $central_port
admin_listen_port = $admin_port
tls_cert = $work/pki/central.pem
tls_key = $work/pki/central.key
data_dir = $work/central
store = sqlite
policy_signing_key = $work/certs/policy.key
checkin_flush_interval = 1s
CONF
cat > "$work/dmz.conf" <<CONF
name = dmz
listen_host = 127.0.0.1
listen_port = $dmz_port
tls_cert = $work/pki/dmz.pem
tls_key = $work/pki/dmz.key
ca_file = $work/pki/ca.pem
data_dir = $work/dmz
upstream = https://127.0.0.1:$central_port
admin_listen_port = 0
checkin_flush_interval = 1s
CONF
cat > "$work/client.conf" <<CONF
server = https://127.0.0.1:$dmz_port
ca_file = $work/pki/ca.pem
policy_public_key = $work/certs/policy.pub
state_dir = $work/client
enroll_secret = $secret
CONF

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_listening() {
  for _ in $(seq 100); do
    grep -q "listening on" "$1" && return 0
    sleep 0.1
  done
  echo "beacon did not start; see $1" >&2
  cat "$1" >&2
  exit 1
}

echo "== publishing the policy folder (conf/policy: default/ and a servers group) as revision 1"
"${ctl[@]}" policy publish -m "quickstart"

echo "== starting the central on 127.0.0.1:$central_port and the DMZ beacon on 127.0.0.1:$dmz_port"
"$bin/beacon/beacon" --config "$work/central.conf" >"$work/central.log" 2>&1 & pids+=($!)
wait_listening "$work/central.log"
"$bin/beacon/beacon" --config "$work/dmz.conf" >"$work/dmz.log" 2>&1 & pids+=($!)
wait_listening "$work/dmz.log"

echo "== one client cycle: enrollment, policy, inventory, upload (through the DMZ beacon)"
"$bin/client/beacon-client" --config "$work/client.conf" run --once
device=$(cat "$work/client/device-id")

echo "== waiting for the central to import the inventory and the check-in"
# (Outputs are captured before they are searched: with pipefail, a grep -q that
# stops reading early would fail the pipeline through SIGPIPE.)
for _ in $(seq 100); do
  devices=$("${ctl[@]}" devices --status active --csv 2>/dev/null | tr -d '\r' || true)
  software=$("${ctl[@]}" software "$device" 2>/dev/null || true)
  # Active (checked in, inventory imported), in sync with the revision it
  # applied (the last CSV field), and its packages listed.
  if grep -q "^$device,.*,true\$" <<<"$devices" && [ -n "$software" ]; then break; fi
  sleep 0.2
done

echo
echo "== beaconctl enroll list"
"${ctl[@]}" enroll list
echo
echo "== beaconctl devices"
"${ctl[@]}" devices
echo
software=$("${ctl[@]}" software "$device")
echo "== beaconctl software $device (first 15 of $(($(wc -l <<<"$software") - 1)) packages)"
head -n 16 <<<"$software"
echo
resolved=$("${ctl[@]}" policy resolve "$device")
echo "== beaconctl policy resolve $device (which group gave each part; the documents follow)"
sed -n '/^==> /q;p' <<<"$resolved"
echo
echo "== beaconctl status (who is not reporting, what is broken: docs/estate.md)"
"${ctl[@]}" status
echo
echo "== beaconctl device show $device"
"${ctl[@]}" device show "$device"
echo
echo "== beaconctl beacons"
"${ctl[@]}" beacons
echo
echo "== the web dashboard (docs/dashboard.md): run this central again, make a token, open its admin listener"
echo "  $bin/beacon/beacon --config $work/central.conf &"
echo "  $bin/beaconctl/beaconctl --data-dir $work/central token create --name me --role admin"
echo "  then open https://127.0.0.1:$admin_port/ and paste the token (the certificate is from the estate CA"
echo "  $work/pki/ca.pem: trust it in the browser, or accept the certificate)"
echo
echo "Logs and data are in $work. Everything started here is now stopped."
