#!/usr/bin/env bash
# The beacon under attack, one attack at a time, with nginx under the same
# attack in the same run for reference. See docs/benchmarks.md ("Under attack").
#
#   bench/attack.sh
#
# The target (DESIGN.md, the HTTP layer): while each attack runs, a legitimate
# client probing once a second sees at least 99% of its probes answered, p99
# under one second, and the server's memory grows by less than 64 MiB.
#
# Settings (environment variables):
#   DURATION=60s          how long each attack runs (and the probe: one a second)
#   ATTACKS="header-huge header-many slowloris slow-headers slow-body idle-tcp idle-tls"
#   SERVERS="beacon nginx"
#   CONNS=2000            connections of the slow and idle attacks
#   FLOOD_CONNS=8         connections of the header floods
#   FLOOD_BYTES=134217728 header bytes per flood connection (128 MiB)
#   SOURCES=200           source addresses of our own attack tool (127.0.1.1 ...):
#                         2,000 connections from 200 hosts, 10 each, so a
#                         per-address connection cap alone does not stop them
#   PROBE_SOURCE=127.0.0.2  the probe's own address (not an attacker's)
#   PROBE_TIMEOUT=5       seconds for each probe: connect, handshake, answer
#   RSS_KILL_MIB=4096     a server whose RSS passes this is killed (the machine
#                         is shared); the row says so
#   BEACON_EXTRA=""       extra beacon config lines ("key = value", newline
#                         separated), e.g. settings of a new server engine
#   NGINX_EXTRA=""        extra lines for nginx's http block
#   SERVER_CPU=0 CLIENT_CPU=1   the server's core; the attack tool's and the probe's
#   BUILD_DIR=build-bench RESULTS=bench/results (raw outputs in RESULTS/attack-<timestamp>/)
#   QUIET_WAIT=60         before each run, wait up to this long for idle cores
#
# Attacks (each against a fresh server; the attack tool reopens what the
# server closes, so the pressure lasts the whole DURATION):
#   header-huge   FLOOD_CONNS TLS connections, each sending one header line of
#                 FLOOD_BYTES as fast as the server reads it (bench/attack.py)
#   header-many   the same volume as ~12-byte header lines ("X-F0001a: 1")
#   slowloris     slowhttptest -H: CONNS connections from 127.0.0.1, one
#                 header line every 2 s, never the end of the headers
#   slow-headers  the same from SOURCES addresses (bench/attack.py)
#   slow-body     CONNS valid uploads (PUT /v1/devices/<uuid>/uploads/logs/<uuid>,
#                 X-Beacon-Device, X-Beacon-Content-SHA256, Content-Length: 65536),
#                 one body byte every 2 s, by an attacker holding a device's key
#                 (a stolen machine: device 1's certificate, its own device id);
#                 without a certificate an upload is refused (401) before its
#                 body, so an anonymous slow body is no attack any more
#   idle-tcp      CONNS TCP connections that send nothing
#   idle-tls      CONNS TLS connections that complete the handshake, then send nothing
# The beacon is a central (store = sqlite) with its defaults, as bench/run.sh
# starts it. nginx has one worker, keepalive_timeout 5s (the beacon's default)
# and its own defaults otherwise (client_header_timeout and
# client_body_timeout 60s, large_client_header_buffers 4 8k). Both ask every
# client for a certificate from the estate CA (the beacon always does; nginx
# with ssl_verify_client optional); the attackers other than slow-body present
# none, as anyone on the internet.
set -euo pipefail

me=attack.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

DURATION=${DURATION:-60s}
ATTACKS=${ATTACKS:-header-huge header-many slowloris slow-headers slow-body idle-tcp idle-tls}
SERVERS=${SERVERS:-beacon nginx}
CONNS=${CONNS:-2000}
FLOOD_CONNS=${FLOOD_CONNS:-8}
FLOOD_BYTES=${FLOOD_BYTES:-134217728}
SOURCES=${SOURCES:-200}
PROBE_SOURCE=${PROBE_SOURCE:-127.0.0.2}
PROBE_TIMEOUT=${PROBE_TIMEOUT:-5}
RSS_KILL_MIB=${RSS_KILL_MIB:-4096}
BEACON_EXTRA=${BEACON_EXTRA:-}
NGINX_EXTRA=${NGINX_EXTRA:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
RESULTS=${RESULTS:-$here/results}
QUIET_WAIT=${QUIET_WAIT:-60}

# ---- tools ----
"$root/scripts/install-deps.sh"
install_nginx
install_packages curl slowhttptest
require_tools curl slowhttptest taskset python3 openssl cmake g++ sha256sum /usr/bin/time
for a in $ATTACKS; do
  case $a in
    header-huge | header-many | slowloris | slow-headers | slow-body | idle-tcp | idle-tls) ;;
    *) die "unknown attack '$a'" ;;
  esac
done
# Every attack connection, the server's side of it and the probe need a descriptor.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= CONNS * 2 + 500)) || die "open-file limit $(ulimit -n) is too low for $CONNS connections"
dur_s=$(duration_s "$DURATION")

build_beacon "$BUILD_DIR"

# ---- work area ----
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$RESULTS/attack-$stamp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/beacon-attack.XXXXXX)
cleanup_dirs+=("$tmp")
bench_trap
make_certs_and_policy "$tmp"
# The estate CA, the central's certificate and device 1's (slow-body's and the check's).
make_identities 1 central
nginx_verify=optional

# A real upload proves the route, headers and certificate that slow-body imitates.
check_body=$tmp/check.bin
head -c 4096 /dev/urandom >"$check_body"
check_sha=$(sha256sum "$check_body" | cut -d' ' -f1)
check_dev=$(bench_device 1)

# ---- servers ----
server_pid=""
start_server() {  # beacon|nginx NAME: a fresh server on a free port; sets port, server_pid
  port=$(free_port)
  if [[ $1 == beacon ]]; then
    start_central "$tmp/$2-data" "$port" "$out/$2.beacon.log" "$SERVER_CPU" "$BEACON_EXTRA"
    cp "$tmp/$2-data.conf" "$out/$2.beacon.conf"
    server_pid=$central_pid
  else
    rm -rf "$tmp/$2-nginx"
    write_nginx_conf "$tmp/$2-nginx" "$port" $((CONNS + 2000)) "  keepalive_timeout 5s;  # the beacon's default
${NGINX_EXTRA}"
    cp "$tmp/$2-nginx/nginx.conf" "$out/$2.nginx.conf"
    start_nginx_dir "$tmp/$2-nginx" "$port" "$SERVER_CPU"
    server_pid=$nginx_pid
  fi
  local got
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" --cert "$(device_pem 1)" --key "$(device_key 1)" \
    -X PUT -H "X-Beacon-Device: $check_dev" \
    -H "X-Beacon-Content-SHA256: $check_sha" --data-binary "@$check_body" \
    "https://127.0.0.1:$port/v1/devices/$check_dev/uploads/logs/00000000-0000-4000-8000-000000000001")
  [[ $got == 201 ]] || die "$1: a check upload answered $got, expected 201"
}

# ---- one attack against one server ----

# The attack tool for ATTACK, started in the background on the client core;
# its output goes to FILE. Sets attack_pid.
start_attack() {  # ATTACK FILE
  local py=(taskset -c "$CLIENT_CPU" python3 "$here/attack.py")
  case $1 in
    header-huge | header-many)
      "${py[@]}" "$1" "$port" --conns "$FLOOD_CONNS" --seconds "$dur_s" --bytes "$FLOOD_BYTES" \
        --reopen 0.2 >"$2" 2>&1 &
      ;;
    slowloris)
      # -r: connections per second while ramping up; -x: follow-up header size;
      # -g -o: a CSV of connection states per second.
      (cd "$out" && exec timeout $((dur_s + 30)) /usr/bin/time -f 'attack_cpu_s=%U+%S' \
        taskset -c "$CLIENT_CPU" slowhttptest -H -c "$CONNS" -r 500 \
        -i 2 -x 24 -p "$PROBE_TIMEOUT" -l "$dur_s" -g -o "$(basename "$2" .txt)" \
        -u "https://127.0.0.1:$port/v1/ping") >"$2" 2>&1 &
      ;;
    slow-body)
      "${py[@]}" "$1" "$port" --conns "$CONNS" --seconds "$dur_s" --sources "$SOURCES" \
        --interval 2 --cert "$(device_pem 1)" --key "$(device_key 1)" --device "$check_dev" >"$2" 2>&1 &
      ;;
    *)
      "${py[@]}" "$1" "$port" --conns "$CONNS" --seconds "$dur_s" --sources "$SOURCES" \
        --interval 2 >"$2" 2>&1 &
      ;;
  esac
  attack_pid=$!
  pids+=("$attack_pid")
}

# One line about what the attack tool did, from its output FILE.
attack_summary() {  # ATTACK FILE
  if [[ $1 == slowloris ]]; then
    # The CSV has one row a second: seconds, closed, pending, connected, service available.
    local csv=${2%.txt}.csv
    if [[ -f $csv ]]; then
      awk -F, 'NR > 1 { if ($4 > m) m = $4; c = $2; e = $3 } END { printf "slowhttptest: max connected %d, closed %d at the end", m, c }' "$csv"
    else
      sed 's/\x1b\[[0-9;]*m//g' "$2" | awk '/connected:|closed:|error:/ { printf "%s ", $0 }'
    fi
  else
    sed -n 's/^ATTACK mode=[^ ]* //p' "$2" | tail -1 |
      awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
             printf "attack.py: opened %s, max open %s, closed by server %s, sent %.0f MiB, answers %s, errors %s",
               v["opened"], v["max_open"], v["closed_by_server"], v["bytes_sent"] / 1048576, v["answers"], v["errors"] }'
  fi
}

rows=()
run_one() {  # ATTACK SERVER
  local attack=$1 server=$2 name="$1-$2" busy rss0 t0 t1 ticks0 ticks1 sampler probe_pid probe_line
  local family killed="" alive=yes max_kib hwm cpu others notes t_stop attack_cpu
  busy=$(wait_quiet "$QUIET_WAIT" "$SERVER_CPU" "$CLIENT_CPU")
  start_server "$server" "$name"
  sleep 1  # let start-up allocations settle before the baseline
  rss0=$(rss_kib "$server_pid")
  family=$(proc_family "$server_pid")
  echo "== $attack against $server (port $port, RSS $(mib "$rss0") MiB) for ${dur_s}s"
  others_snapshot >"$tmp/procs-before"
  ticks0=$(proc_ticks "$server_pid")
  t0=$(date +%s%N)
  sample_rss "$server_pid" "$out/$name.rss" "$RSS_KILL_MIB" &
  sampler=$!
  pids+=("$sampler")
  start_attack "$attack" "$out/$name.attack.txt"
  # The probe has priority on the client core: it stands for a client on
  # another machine, whose latency the attack tool's CPU use must not inflate.
  taskset -c "$CLIENT_CPU" nice -n -5 python3 "$here/probe.py" "$port" "$ca" --count "$dur_s" \
    --timeout "$PROBE_TIMEOUT" --source "$PROBE_SOURCE" --out "$out/$name.probe" >"$tmp/probe.txt" &
  probe_pid=$!
  pids+=("$probe_pid")
  wait "$probe_pid" || die "the probe failed: $(cat "$tmp/probe.txt")"
  forget_pid "$probe_pid"
  probe_line=$(grep '^PROBE ' "$tmp/probe.txt") || die "no probe summary in $tmp/probe.txt"
  # The attack tool stops by itself at DURATION; slowhttptest within a few seconds.
  local i exclude
  for i in $(seq 60); do kill -0 "$attack_pid" 2>/dev/null || break; sleep 0.5; done
  exclude="$family $sampler $probe_pid $(proc_family "$attack_pid") $$"
  stop_and_forget "$attack_pid"
  # The attack tool's own CPU: a tool that used its whole core was slower than
  # its settings say (python's handshakes).
  attack_cpu=$(sed -n 's/.*attack_cpu_s=\([0-9.+]*\).*/\1/p' "$out/$name.attack.txt" | tail -1 |
    awk -F+ -v d="$dur_s" '{ printf "%.0f", 100 * ($1 + $2) / d }')
  # The measurement ends here: what the server still does with the bytes in
  # its socket buffers until now is part of the attack's cost.
  kill -0 "$server_pid" 2>/dev/null || alive=no
  ticks1=$(proc_ticks "$server_pid")
  hwm=$(hwm_kib "$server_pid")
  t1=$(date +%s%N)
  stop_and_forget "$sampler"
  others_snapshot >"$tmp/procs-after"
  if grep -q '^killed' "$out/$name.rss"; then
    killed=$(awk -v lim="$RSS_KILL_MIB" '/^killed/ { printf "killed by the bench at %.0f s (RSS %.0f MiB > %d)", $2 / 1000, $3 / 1024, lim }' "$out/$name.rss")
  fi
  max_kib=$(awk '$1 != "killed" && $2 > m { m = $2 } END { print m + 0 }' "$out/$name.rss")
  cpu="n/a"  # a killed server's CPU time is gone with it
  [[ $alive == yes && -z $killed ]] && cpu="$(( (ticks1 - ticks0) * 100 * 1000000000 / ($(getconf CLK_TCK) * (t1 - t0)) ))%"
  others=$(others_cpu "$tmp/procs-before" "$tmp/procs-after" $exclude)
  echo "others: $others" >>"$out/$name.attack.txt"

  notes="$(attack_summary "$attack" "$out/$name.attack.txt"); server CPU $cpu, attack tool CPU ${attack_cpu:-?}%"
  ((hwm > 0)) && notes="$notes; peak (VmHWM) $(mib "$hwm") MiB"
  [[ -n $killed ]] && notes="$notes; **$killed**"
  [[ $alive == no && -z $killed ]] && notes="$notes; **the server exited** (see $name.*.log)"
  [[ -n $busy ]] && notes="$notes; the machine was busy (${busy}% of a core) before the run"
  # Other work on the machine during the run (other engineers' builds): above
  # 15% of a core it is noted, as bench/run.sh does.
  awk -v s="${others%% *}" -v d="$dur_s" 'BEGIN { exit !(s > 0.15 * d) }' &&
    notes="$notes; other processes used ${others%% *} s of CPU during the run (${others#* })"
  t_stop=$(date +%s%N)
  stop_and_forget "$server_pid"
  (( ($(date +%s%N) - t_stop) > 9000000000 )) && notes="$notes; did not stop within 10 s of SIGTERM (killed)"
  echo "   $probe_line max_rss=$(mib "$max_kib") MiB"
  cat "$tmp/probe.txt" >>"$out/$name.probe"
  rows+=("$(row "$attack" "$server" "$probe_line" "$rss0" "$max_kib" "$notes")")
  echo "${rows[-1]}" >>"$out/rows.md"
}

# A markdown row: attack | server | answered | p50 | p99 | RSS before / max | growth | target met | notes
row() {  # ATTACK SERVER PROBE_LINE RSS0_KIB MAX_KIB NOTES
  local ans p50 p99 growth met=yes
  ans=$(probe_field answered_pct "$3")
  p50=$(probe_field p50_ms "$3")
  p99=$(probe_field p99_ms "$3")
  growth=$(awk -v a="$4" -v b="$5" 'BEGIN { printf "%.1f", (b - a) / 1024 }')
  awk -v a="$ans" 'BEGIN { exit !(a >= 99) }' || met=no
  if [[ $p99 == \>* ]] || awk -v p="$p99" 'BEGIN { exit !(p >= 1000) }'; then met=no; fi
  awk -v g="$growth" 'BEGIN { exit !(g >= 64) }' && met=no
  printf '| %s | %s | %s%% | %s ms | %s ms | %s / %s | %s MiB | %s | %s |' "$1" "$2" "$ans" "$p50" "$p99" \
    "$(mib "$4")" "$(mib "$5")" "$growth" "$met" "$6"
}
probe_field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY PROBE_LINE

for attack in $ATTACKS; do
  for server in $SERVERS; do
    run_one "$attack" "$server"
  done
done

# ---- report ----
{
  machine_line
  echo "Versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(slowhttptest -h 2>&1 | sed -n 's/.*version \([0-9.]*\).*/slowhttptest \1/p' | head -1), $(openssl version | cut -d' ' -f1-2), Python $(python3 -c 'import platform; print(platform.python_version())'), beacon $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- common beacon || echo '+changes')"
  echo "Run $stamp: DURATION=$DURATION CONNS=$CONNS FLOOD_CONNS=$FLOOD_CONNS FLOOD_BYTES=$FLOOD_BYTES SOURCES=$SOURCES, servers on CPU $SERVER_CPU, attack and probe on CPU $CLIENT_CPU${BEACON_EXTRA:+, BEACON_EXTRA: $(tr '\n' ';' <<<"$BEACON_EXTRA")}"
  echo
  echo "| attack | server | probes answered | probe p50 | probe p99 | RSS before / max MiB | growth | target met | notes |"
  echo "|---|---|---:|---:|---:|---:|---:|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/summary.md"
echo
echo "raw outputs: $out"
