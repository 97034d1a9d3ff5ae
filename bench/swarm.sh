#!/usr/bin/env bash
# The swarm simulator against a real relay and central on loopback: a day of
# the estate's schedule, compressed, then a relay outage and the reconnect
# storm after it. See docs/benchmarks.md ("Swarm simulator") and
# bench/swarm/scenarios.h.
#
#   bench/swarm.sh
#
# Settings (environment variables):
#   DEVICES=100000        simulated devices
#   CONNS=128             simulator workers, one connection each
#   FRESH_CONNECTIONS=0   1: a new TLS connection for every device round (without: a new one
#                         whenever a worker takes up another device, see below)
#   DAY_MINUTES=5         real minutes for the 24 simulated hours
#   OUTAGE_SECONDS=30     how long the relay stays stopped
#   SCENARIOS="day outage"
#   PACKAGES=20           packages in each synthetic inventory
#   SERVERS_PERCENT=5     devices reported as servers (the sample servers group)
#   BACKOFF_BASE=0 BACKOFF_CAP=0   the devices' delivery backoff in seconds
#                         (0: the client's defaults, 30 s and 1 h)
#   RELAY_CONF="" CENTRAL_CONF=""  extra "key = value" lines for the beacons
#                         (e.g. RELAY_CONF=$'max_concurrent_uploads = 256\nretry_after = 5s')
#   FINISH_TIMEOUT=180    day: seconds queued uploads may take after the day
#   STORM_TIMEOUT=900     outage: seconds the storm may take
#   DRAIN_TIMEOUT=900     seconds to wait for both spools to empty before the
#                         store is checked (an upload still spooled then is
#                         counted "in flight", not lost)
#   BUILD_DIR=build-bench Release build (built with -j2 if needed)
#   RESULTS=bench/results raw outputs go to RESULTS/swarm-<timestamp>/
#
# Identities (docs/identity.md): the estate CA is made in the central's data
# directory (beaconctl ca init), the central and the relay get beacon
# certificates (beaconctl beacon issue; bench/lib.sh make_identities), and
# the simulator issues every simulated device a certificate of its own from
# the central's CA before the first scenario (bench/swarm/identities.h;
# kept in the work area for the next scenario). A connection presents one
# device's certificate, so a worker reconnects (a full handshake with a
# client certificate) whenever it takes up another device.
#
# Checks after each scenario: every upload the simulator saw acknowledged
# (201/200, in <scenario>-acks.tsv) must be in the central's store (sqlite3,
# table uploads) or still in a spool's ready/ folder; no (device, upload id)
# may be stored twice. The script exits 1 if one is lost or duplicated.
set -euo pipefail
export LC_ALL=C  # sort and comm must agree on the order

me=swarm.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"  # make_identities, beacon_conf, the process helpers

DEVICES=${DEVICES:-100000}
CONNS=${CONNS:-128}
FRESH_CONNECTIONS=${FRESH_CONNECTIONS:-0}
DAY_MINUTES=${DAY_MINUTES:-5}
OUTAGE_SECONDS=${OUTAGE_SECONDS:-30}
SCENARIOS=${SCENARIOS:-day outage}
PACKAGES=${PACKAGES:-20}
SERVERS_PERCENT=${SERVERS_PERCENT:-5}
BACKOFF_BASE=${BACKOFF_BASE:-0}
BACKOFF_CAP=${BACKOFF_CAP:-0}
RELAY_CONF=${RELAY_CONF:-}
CENTRAL_CONF=${CENTRAL_CONF:-}
FINISH_TIMEOUT=${FINISH_TIMEOUT:-180}
STORM_TIMEOUT=${STORM_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-900}
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
RESULTS=${RESULTS:-$here/results}

# ---- tools ----
"$root/scripts/install-deps.sh"
if ! dpkg-query -W -f='${Status}' sqlite3 2>/dev/null | grep -q "ok installed"; then
  as_root=""; [ "$(id -u)" -eq 0 ] || as_root=sudo
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends sqlite3 >/dev/null
fi
for tool in sqlite3 python3 openssl cmake /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "swarm.sh: '$tool' is not installed" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"

# ---- build ----
echo "== building (Release) in $BUILD_DIR"
# Configured every time: a build folder made before bench/ existed knows no beacon-swarm.
cmake -S "$root" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBEACON_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j2 --target beacon beaconctl beacon-swarm >/dev/null
beacon_bin=$BUILD_DIR/beacon/beacon
ctl_bin=$BUILD_DIR/beaconctl/beaconctl
swarm_bin=$BUILD_DIR/bench/beacon-swarm

# ---- work area ----
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$RESULTS/swarm-$stamp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/beacon-swarm.XXXXXX)  # the beacons' data: on disk, fsync is real
# lib.sh's process helpers; a beacon draining a swarm's spool may take a
# minute to stop.
STOP_WAIT=60
cleanup_dirs+=("$tmp")
bench_trap

"$root/scripts/make-certs.sh" "$tmp/certs" 127.0.0.1 localhost >/dev/null  # the policy signing key
make_identities 0 central relay
central_port=$(free_port)
relay_port=$(free_port)
central=$tmp/central
relay=$tmp/relay
mkdir -p "$central/policy" "$relay"
cp -a "$estate/ca" "$central/ca"  # the CA that issued the beacons' certificates
cp -r "$root"/conf/policy/. "$central/policy/"
# As the quickstart does: every device uses the relay.
printf '<failover version="1">\n  <beacon url="https://127.0.0.1:%s" priority="0"/>\n</failover>\n' "$relay_port" \
  >"$central/policy/default/failover.xml"
"$ctl_bin" --data-dir "$central" policy publish -m "swarm" >/dev/null

{ beacon_conf central "$central_port" "$central"; cat <<CONF
store = sqlite
policy_signing_key = $tmp/certs/policy.key
${CENTRAL_CONF}
CONF
} >"$out/central.conf"
{ beacon_conf relay "$relay_port" "$relay"; cat <<CONF
upstream = https://127.0.0.1:$central_port
${RELAY_CONF}
CONF
} >"$out/relay.conf"

central_pid=""
relay_pid=""
start_beacon() {  # NAME: starts it, waits for "listening on", sets NAME_pid
  local name=$1 i
  "$beacon_bin" --config "$out/$name.conf" >>"$out/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  eval "${name}_pid=$pid"
  for i in $(seq 300); do
    if [[ $(grep -c "listening on" "$out/$name.log") -ge $2 ]]; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "swarm.sh: $name exited; see $out/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "swarm.sh: $name did not start; see $out/$name.log" >&2
  exit 1
}
relay_starts=0
start_relay() { relay_starts=$((relay_starts + 1)); start_beacon relay "$relay_starts"; }
cpu_s() {  # PID: utime + stime in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
ready_count() { find "$1/spool/ready" -maxdepth 1 -name '*.upl' 2>/dev/null | wc -l; }

start_beacon central 1
start_relay

swarm_args=(--server "https://127.0.0.1:$relay_port" --ca-file "$ca"
  --ca-dir "$central/ca" --identity-dir "$tmp/identities"
  --policy-public-key "$tmp/certs/policy.pub" --results "$out" --conns "$CONNS"
  --packages "$PACKAGES" --servers-percent "$SERVERS_PERCENT"
  --backoff-base "$BACKOFF_BASE" --backoff-cap "$BACKOFF_CAP")
[[ $FRESH_CONNECTIONS == 1 ]] && swarm_args+=(--fresh-connections)
state=$out/devices.tsv

# Waits for both spools to empty, then checks every acknowledged upload
# against the store (and what is still spooled). Writes verify-SCENARIO.json.
verify() {
  local scenario=$1 t0 drained="true"
  t0=$(date +%s.%N)
  local until=$((SECONDS + DRAIN_TIMEOUT))
  while ((SECONDS < until)); do
    (( $(ready_count "$relay") + $(ready_count "$central") == 0 )) && break
    sleep 1
  done
  (( $(ready_count "$relay") + $(ready_count "$central") == 0 )) || drained="false"
  local drain_s
  drain_s=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
  # Read in the order uploads travel (relay, central, store): an upload that
  # moves on while we read is still seen once.
  local keys=$tmp/keys
  mkdir -p "$keys"
  for dir in "$relay" "$central"; do
    find "$dir/spool/ready" -maxdepth 1 -name '*.upl' -printf '%f\n' 2>/dev/null |
      sed -n 's/^\([0-9a-f-]\{36\}\)_\([0-9a-f-]\{36\}\)\.upl$/\1\t\2/p'
  done | sort -u >"$keys/spooled"
  sqlite3 -readonly -separator $'\t' "$central/store.sqlite" \
    "SELECT device_id, upload_id, count(*) FROM uploads WHERE kind = 'inventory' GROUP BY device_id, upload_id" \
    >"$keys/stored_counts"
  cut -f1,2 "$keys/stored_counts" | sort -u >"$keys/stored"
  cat "$out"/*-acks.tsv | cut -f1,2 | sort >"$keys/acked_all"
  cut -f1,2 "$out/$scenario-acks.tsv" | sort -u >"$keys/acked"
  sort -u "$keys/stored" "$keys/spooled" >"$keys/held"
  local acked acked_twice lost lost_all in_flight stored dup not_acked rejected
  acked=$(wc -l <"$keys/acked")
  acked_twice=$(uniq -d "$keys/acked_all" | wc -l)
  lost=$(comm -23 "$keys/acked" "$keys/held" | wc -l)
  lost_all=$(sort -u "$keys/acked_all" | comm -23 - "$keys/held" | wc -l)
  in_flight=$(comm -23 "$keys/acked" "$keys/stored" | wc -l)
  stored=$(wc -l <"$keys/stored")
  dup=$(awk -F'\t' '$3 > 1' "$keys/stored_counts" | wc -l)
  not_acked=$(sort -u "$keys/acked_all" | comm -13 - "$keys/stored" | wc -l)
  rejected=$(find "$relay/spool/rejected" "$central/spool/rejected" -name '*.reason' 2>/dev/null | wc -l)
  comm -23 "$keys/acked" "$keys/held" >"$out/$scenario-lost.tsv"
  cat >"$out/verify-$scenario.json" <<JSON
{"scenario": "$scenario", "drained": $drained, "drain_wait_s": $drain_s, "acknowledged": $acked,
 "lost": $lost, "lost_all_scenarios": $lost_all, "in_flight_in_spools": $in_flight,
 "stored_inventory_uploads": $stored, "stored_twice": $dup, "acknowledged_twice": $acked_twice,
 "stored_never_acknowledged": $not_acked, "rejected": $rejected}
JSON
  echo "SWARM_VERIFY $(tr -d '\n' <"$out/verify-$scenario.json")"
  printf '%-10s acknowledged %s, lost %s (all scenarios %s), stored twice %s, still in a spool %s, stored but never acknowledged %s, rejected %s; spools %s after %s s\n' \
    "$scenario" "$acked" "$lost" "$lost_all" "$dup" "$in_flight" "$not_acked" "$rejected" \
    "$([[ $drained == true ]] && echo empty || echo 'NOT empty')" "$drain_s" | tee -a "$out/verify.txt"
  [[ $lost_all -eq 0 && $dup -eq 0 ]]
}

run_swarm() {  # SCENARIO ARGS...: runs the simulator (its CPU and memory to SCENARIO-swarm-cpu.txt)
  local scenario=$1 rc=0; shift
  /usr/bin/time -o "$out/$scenario-swarm-cpu.txt" -f 'swarm_cpu_s=%U+%S wall_s=%e max_rss_kib=%M' \
    "$swarm_bin" --scenario "$scenario" "${swarm_args[@]}" "$@" 2>>"$out/$scenario-swarm.log" |
    tee "$out/$scenario-stdout.txt" || rc=$?
  return $rc
}
# CPU seconds the beacons used during a scenario; the relay's includes the
# process stopped for the outage (read just before it was stopped).
relay_cpu_before_stop=0
cpu_mark() { relay_cpu0=$(cpu_s "$relay_pid"); central_cpu0=$(cpu_s "$central_pid"); relay_cpu_before_stop=0; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_report() {  # SCENARIO
  python3 -c "print('relay_cpu_s=%.1f central_cpu_s=%.1f' % ($(cpu_s "$relay_pid") + $relay_cpu_before_stop - $relay_cpu0, $(cpu_s "$central_pid") - $central_cpu0))" \
    >>"$out/$1-swarm-cpu.txt"
  echo "relay_peak_rss_mib=$(peak_rss_mib "$relay_pid") central_peak_rss_mib=$(peak_rss_mib "$central_pid")" \
    >>"$out/$1-swarm-cpu.txt"
  cat "$out/$1-swarm-cpu.txt"
}

status=0
for scenario in $SCENARIOS; do
  cpu_mark
  case $scenario in
    day)
      echo "== day: $DEVICES devices, 24 h in $DAY_MINUTES min, $CONNS connections"
      run_swarm day --devices "$DEVICES" --day-minutes "$DAY_MINUTES" --finish-timeout "$FINISH_TIMEOUT" \
        --state-out "$state" || status=1
      ;;
    outage)
      echo "== outage: the relay stops for $OUTAGE_SECONDS s, then every device at once"
      ready=$out/outage.ready
      rm -f "$ready"
      from=(--devices "$DEVICES")
      [[ -f $state ]] && from=(--state-in "$state")
      run_swarm outage "${from[@]}" --ready-file "$ready" --outage-spread "$((OUTAGE_SECONDS / 2))" \
        --storm-timeout "$STORM_TIMEOUT" --state-out "$state" &
      swarm_pid=$!
      until [[ -f $ready ]]; do
        kill -0 "$swarm_pid" 2>/dev/null || { echo "swarm.sh: the simulator exited early" >&2; exit 1; }
        sleep 0.2
      done
      relay_cpu_stopped=$(cpu_s "$relay_pid")
      stop_pid "$relay_pid"
      until grep -q down "$ready"; do sleep 0.1; done
      echo "== relay stopped at $(date -u +%T); starting it again in $OUTAGE_SECONDS s"
      sleep "$OUTAGE_SECONDS"
      start_relay
      echo "== relay listening again at $(date -u +%T)"
      relay_cpu_before_stop=$(python3 -c "print($relay_cpu_stopped - $relay_cpu0)")
      relay_cpu0=0
      wait "$swarm_pid" || status=1
      ;;
    *) echo "swarm.sh: unknown scenario $scenario" >&2; exit 2 ;;
  esac
  cpu_report "$scenario"
  verify "$scenario" || status=1
done

# One table for every scenario and phase (results.md), from the simulator's
# JSON, the store check and the CPU figures.
python3 - "$out" $SCENARIOS <<'PY' | tee "$out/results.md"
import json, re, sys
out, scenarios = sys.argv[1], sys.argv[2:]
print("| scenario | phase | devices | conns | seconds | requests/s | manifest p50 / p99 / max ms | "
      "upload p50 / p99 / max ms | answers | retried after Retry-After |")
print("|---|---|---:|---:|---:|---:|---|---|---|---:|")
tail = []
for sc in scenarios:
    try:
        r = json.load(open(f"{out}/{sc}.json"))
        v = json.load(open(f"{out}/verify-{sc}.json"))
    except OSError:
        continue
    cpu = open(f"{out}/{sc}-swarm-cpu.txt").read()
    for p in r.get("phases", []):
        lat = p.get("latency_ms", {})
        def pct(t):
            x = lat.get(t)
            return "-" if not x else "%.1f / %.1f / %.0f" % (x["p50"], x["p99"], x["max"])
        answers = "; ".join(t + " " + ", ".join(f"{k}: {n}" for k, n in sorted(x["answers"].items()))
                            for t, x in lat.items())
        print(f"| {sc} | {p['phase']} | {r['devices']} | {r['conns']} | {p['seconds']:.1f} | "
              f"{p['requests_per_s']:.0f} | {pct('manifest')} | {pct('upload')} | {answers} | "
              f"{p['counters'].get('retry_after_honoured', 0)} |")
    served = r.get("all_served_s")
    tail.append(f"- {sc}: acknowledged {v['acknowledged']}, lost {v['lost']}, stored twice "
                f"{v['stored_twice']}, still in a spool {v['in_flight_in_spools']} "
                f"(spools {'empty' if v['drained'] else 'NOT empty'} after {v['drain_wait_s']} s)"
                + (f"; every device served {served} s after the relay returned" if sc == "outage" and served is not None else "")
                + (f"; {r.get('devices_not_served')} devices not served" if sc == "outage" and served is None else "")
                + "; " + " ".join(cpu.split()))
print()
print("\n".join(tail))
PY
echo
echo "== results in $out"
exit $status
