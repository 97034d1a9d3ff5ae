#!/usr/bin/env bash
# TLS connection costs of the beacon against nginx, in the same run, same
# certificate (ECDSA P-256), TLS 1.3, the server on one core and the load on
# the other. See docs/benchmarks.md ("TLS handshakes", "Idle connections").
#
#   bench/tls.sh
#
# Scenarios (SCENARIOS="handshake idle"):
#   handshake  a new TLS connection per request: connect, handshake, GET /v1/ping
#              ("Connection: close"), close; HS_CONNS of them in parallel
#              (bench/tlsload.cpp, epoll + non-blocking OpenSSL). Full handshakes,
#              then resumed ones (each connection offers the newest TLS 1.3
#              session ticket the server gave it). ROUNDS rounds, alternating
#              which server goes first. HS_KINDS says which handshakes:
#                full          no client certificate (the beacon asks for one,
#                              as it always does; nginx does not ask)
#                resumed       the same, resumed from tickets
#                mtls          mutual TLS: a device certificate from the estate
#                              CA in every handshake, GET /v1/trust (an
#                              identified route: the beacon answers 401 to a
#                              certificate it does not accept); nginx on a
#                              second port with ssl_verify_client on and the
#                              estate CA, serving the same bundle
#                mtls-resumed  the same, resumed (TLS 1.3 sends no certificate
#                              then: the identity comes from the ticket)
#                ask           no client certificate; nginx on a third port with
#                              ssl_verify_client optional: what asking costs
#                              nginx (the beacon always asks: its run is "full")
#   idle       IDLE_CONNS keep-alive TLS connections opened, one GET /v1/ping
#              answered on each, then held idle (tlsload hold). The server's
#              VmRSS before and while they are held, and the latency of PROBES
#              fresh-connection probes (GET /v1/ping, one a second) meanwhile.
#
# Settings (environment variables):
#   SCENARIOS="handshake idle"
#   HS_CONNS=64          parallel connections of the handshake load
#   HS_SECONDS=10        measured seconds per handshake run (after a 2 s warm-up)
#   ROUNDS=3             handshake rounds
#   HS_KINDS="full resumed mtls mtls-resumed"  handshake kinds (above), in this order
#   IDLE_CONNS=10000     connections held idle
#   KEEP_ALIVE=300s      keep_alive_timeout (beacon) and keepalive_timeout (nginx)
#                        for the idle scenario, so no connection ends by itself
#   IDLE_READY_TIMEOUT=120  seconds to wait for every idle connection to be
#                        established (or to fail) before measuring
#   PROBES=10            probes while the idle connections are held
#   SOURCES=50           local addresses (127.0.2.1 ...) the load is spread over
#   BEACON_EXTRA=""      extra beacon config lines ("key = value", newline separated)
#   NGINX_EXTRA=""       extra lines for nginx's http block
#   SERVER_CPU=0 CLIENT_CPU=1 BUILD_DIR=build-bench RESULTS=bench/results
#   QUIET_WAIT=60        before each run, wait up to this long for idle cores
#   RETRIES=3 OTHER_MAX=15  a handshake run during which other processes used
#                        more than OTHER_MAX% of a core is repeated, up to RETRIES times
#
# The beacon is a central (store = sqlite) with its defaults, as bench/run.sh
# starts it (threads = 256 unless BEACON_EXTRA says otherwise). nginx has one
# worker, ssl_session_tickets on (its default), no session cache.
set -euo pipefail

me=tls.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

SCENARIOS=${SCENARIOS:-handshake idle}
HS_CONNS=${HS_CONNS:-64}
HS_SECONDS=${HS_SECONDS:-10}
ROUNDS=${ROUNDS:-3}
HS_KINDS=${HS_KINDS:-full resumed mtls mtls-resumed}
IDLE_CONNS=${IDLE_CONNS:-10000}
KEEP_ALIVE=${KEEP_ALIVE:-300s}
IDLE_READY_TIMEOUT=${IDLE_READY_TIMEOUT:-120}
PROBES=${PROBES:-10}
SOURCES=${SOURCES:-50}
BEACON_EXTRA=${BEACON_EXTRA:-}
NGINX_EXTRA=${NGINX_EXTRA:-}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
RESULTS=${RESULTS:-$here/results}
QUIET_WAIT=${QUIET_WAIT:-60}
RETRIES=${RETRIES:-3}
OTHER_MAX=${OTHER_MAX:-15}

# ---- tools ----
"$root/scripts/install-deps.sh"
install_nginx
install_packages curl
require_tools curl taskset python3 openssl cmake g++
# The idle scenario holds IDLE_CONNS descriptors in tlsload and as many in the server.
ulimit -n "$(ulimit -Hn)"
if [[ " $SCENARIOS " == *" idle "* ]] && (($(ulimit -n) < IDLE_CONNS + 1000)); then
  die "open-file limit $(ulimit -n) is too low for $IDLE_CONNS connections (raise the hard limit)"
fi
build_beacon "$BUILD_DIR"
build_tlsload "$BUILD_DIR"

# ---- work area ----
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$RESULTS/tls-$stamp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/beacon-tls.XXXXXX)
cleanup_dirs+=("$tmp")
bench_trap
make_certs_and_policy "$tmp"
# The estate CA, the central's certificate (nginx serves the same one), and
# device 1's, which tlsload presents in the mtls runs.
make_identities 1 central load
dev_pem=$(device_pem 1)
dev_key=$(device_key 1)
notes=()

# nginx's server blocks beside its first one (which asks for no client
# certificate): on MTLS_PORT ssl_verify_client on, on ASK_PORT optional;
# both answer GET /v1/ping and serve the trust bundle at GET /v1/trust.
nginx_client_cert_servers() {  # MTLS_PORT ASK_PORT
  local p v
  for p in "$1:on" "$2:optional"; do
    v=${p#*:}
    cat <<EOF
  server {
    listen 127.0.0.1:${p%%:*} ssl;
    ssl_certificate $pki/central.pem;
    ssl_certificate_key $pki/central.key;
    ssl_protocols TLSv1.3;
$(nginx_verify=$v nginx_verify_lines "    ")
    location = /v1/ping { return 200 "ok\n"; }
    location = /v1/trust { default_type application/x-pem-file; alias $ca; }
  }
EOF
  done
}

# A fresh server on a free port; sets port, mtls_port and ask_port (the
# beacon: all three the same) and server_pid. KEEP_ALIVE_S (seconds) is its
# idle keep-alive timeout; nginx gets WORKER_CONNECTIONS slots.
start_server() {  # beacon|nginx NAME KEEP_ALIVE_S NGINX_WORKER_CONNECTIONS
  port=$(free_port)
  if [[ $1 == beacon ]]; then
    start_central "$tmp/$2-data" "$port" "$out/$2.beacon.log" "$SERVER_CPU" \
      "keep_alive_timeout = ${3}s${BEACON_EXTRA:+
$BEACON_EXTRA}"
    cp "$tmp/$2-data.conf" "$out/$2.beacon.conf"
    server_pid=$central_pid
    mtls_port=$port ask_port=$port
  else
    rm -rf "$tmp/$2-nginx"
    mtls_port=$(free_port)
    ask_port=$(free_port)
    write_nginx_conf "$tmp/$2-nginx" "$port" "$4" "  keepalive_timeout ${3}s;
${NGINX_EXTRA}
$(nginx_client_cert_servers "$mtls_port" "$ask_port")"
    cp "$tmp/$2-nginx/nginx.conf" "$out/$2.nginx.conf"
    start_nginx_dir "$tmp/$2-nginx" "$port" "$SERVER_CPU"
    server_pid=$nginx_pid
  fi
  # The certificate verifies and the routes answer before anything is
  # measured; the mtls route accepts device 1's certificate and refuses a
  # client without one (the beacon 401, nginx 400).
  local got no_cert=401
  [[ $1 == nginx ]] && no_cert=400
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" "https://127.0.0.1:$port/v1/ping")
  [[ $got == 200 ]] || die "$1: GET /v1/ping answered $got"
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" --cert "$dev_pem" --key "$dev_key" \
    "https://127.0.0.1:$mtls_port/v1/trust")
  [[ $got == 200 ]] || die "$1: GET /v1/trust with device 1's certificate answered $got"
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" "https://127.0.0.1:$mtls_port/v1/trust")
  [[ $got == "$no_cert" ]] || die "$1: GET /v1/trust without a certificate answered $got, expected $no_cert"
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" "https://127.0.0.1:$ask_port/v1/ping")
  [[ $got == 200 ]] || die "$1: GET /v1/ping (asking for a certificate) answered $got"
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }  # KEY LINE

# ---- handshake ----

# One tlsload rate run against the running server; prints
# "RATE P99_MS CPU_US_PER_CONN SERVER_CPU_PCT RESUMED_PCT ERRORS TLSLOAD_CPU_PCT OTHERS_PCT",
# OTHERS_PCT being the CPU other processes used meanwhile, in percent of one core.
rate_run() {  # NAME PORT [TLSLOAD OPTIONS]
  local name=$1 run_port=$2 line ticks0 ticks1 all secs others
  shift 2
  others_snapshot >"$tmp/procs-before"
  ticks0=$(proc_ticks "$server_pid")
  taskset -c "$CLIENT_CPU" "$tlsload_bin" rate "$run_port" --conns "$HS_CONNS" --seconds "$HS_SECONDS" \
    --sources "$SOURCES" "$@" >"$out/$name.txt" 2>&1 || die "tlsload failed: $(cat "$out/$name.txt")"
  ticks1=$(proc_ticks "$server_pid")
  others_snapshot >"$tmp/procs-after"
  # tlsload has exited, so it is not in the second snapshot; the server and
  # this script are excluded by pid.
  others=$(others_cpu "$tmp/procs-before" "$tmp/procs-after" $(proc_family "$server_pid") $$ $BASHPID)
  echo "others: $others" >>"$out/$name.txt"
  line=$(grep '^TLSLOAD ' "$out/$name.txt") || die "no summary in $out/$name.txt"
  all=$(field all_done "$line")
  secs=$(field all_seconds "$line")
  # Server CPU over the whole tlsload run (warm-up included), per connection.
  awk -v r="$(field rate "$line")" -v p99="$(field p99_ms "$line")" -v t="$((ticks1 - ticks0))" \
    -v hz="$(getconf CLK_TCK)" -v all="$all" -v secs="$secs" -v done="$(field done "$line")" \
    -v res="$(field resumed "$line")" -v err="$(field errors "$line")" \
    -v ccpu="$(field cpu_s "$line")" -v others="${others%% *}" \
    'BEGIN { printf "%.0f %.1f %.0f %.0f %.0f %s %.0f %.0f\n", r, p99, (all > 0 ? t / hz * 1e6 / all : 0),
             (secs > 0 ? 100 * t / hz / secs : 0), (done > 0 ? 100 * res / done : 0), err,
             (secs > 0 ? 100 * ccpu / secs : 0), (secs > 0 ? 100 * others / secs : 0) }'
}

median() {  # FORMAT VALUE...
  local f=$1
  shift
  printf '%s\n' "$@" | sort -g |
    awk -v f="$f" '{ v[NR] = $1 } END { printf f "\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

handshake() {
  local round order server kind b n ratio name busy attempt other
  declare -A res
  for round in $(seq "$ROUNDS"); do
    order="beacon nginx"
    ((round % 2 == 0)) && order="nginx beacon"
    for server in $order; do
      start_server "$server" "hs-r$round-$server" 5 $((HS_CONNS + 1000))
      for kind in $HS_KINDS; do
        name=hs-r$round-$server-$kind
        echo "== round $round: $kind handshakes against $server ($HS_CONNS connections, ${HS_SECONDS}s)"
        # Other work on the machine (it is shared) skews a run: one during
        # which other processes used more than OTHER_MAX% of a core is
        # repeated, up to RETRIES attempts, as bench/run.sh does.
        for attempt in $(seq "$RETRIES"); do
          busy=$(wait_quiet "$QUIET_WAIT" "$SERVER_CPU" "$CLIENT_CPU")
          [[ -z $busy ]] || notes+=("$name started while a core was ${busy}% busy")
          local flag=() kport=$port
          case $kind in
            full) ;;
            resumed) flag=(--resume) ;;
            mtls | mtls-resumed)
              kport=$mtls_port
              flag=(--cert "$dev_pem" --key "$dev_key" --path /v1/trust)
              [[ $kind == mtls-resumed ]] && flag+=(--resume)
              ;;
            ask) kport=$ask_port ;;
            *) die "unknown handshake kind '$kind'" ;;
          esac
          res[$round,$server,$kind]=$(rate_run "$name" "$kport" "${flag[@]}")
          echo "   ${res[$round,$server,$kind]}" | awk '{ printf "   %s/s p99 %s ms, server %s us CPU per connection (%s%% of its core), resumed %s%%, errors %s, tlsload %s%% of its core, other processes %s%%\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
          other=$(awk '{ print $8 }' <<<"${res[$round,$server,$kind]}")
          ((other <= OTHER_MAX)) && break
          if ((attempt == RETRIES)); then
            notes+=("$name: other processes used ${other}% of a core during the run (after $RETRIES attempts); its numbers are suspect")
          else
            mv "$out/$name.txt" "$out/$name.attempt$attempt.txt"
            echo "   (other processes used ${other}% of a core; repeating)"
          fi
        done
      done
      stop_and_forget "$server_pid"
    done
  done
  # One row per kind and round, then the medians.
  hs_rows=()
  for kind in $HS_KINDS; do
    local rates_b=() rates_n=() cpu_b=() cpu_n=() ratios=() cratios=() cratio
    for round in $(seq "$ROUNDS"); do
      read -r -a b <<<"${res[$round,beacon,$kind]}"
      read -r -a n <<<"${res[$round,nginx,$kind]}"
      ratio=$(awk -v b="${b[0]}" -v n="${n[0]}" 'BEGIN { printf "%.2f", (n > 0 ? b / n : 0) }')
      # The generator's core can be the limit (an OpenSSL 3.0 client costs about
      # what the server does), so CPU per connection is compared too: nginx's
      # over the beacon's, read like the throughput ratio (above 1: the beacon
      # is cheaper).
      cratio=$(awk -v b="${b[2]}" -v n="${n[2]}" 'BEGIN { printf "%.2f", (b > 0 ? n / b : 0) }')
      hs_rows+=("| $kind | $round | ${b[0]} | ${n[0]} | $ratio | ${b[2]} / ${n[2]} µs | $cratio | ${b[1]} / ${n[1]} ms | ${b[3]}% / ${n[3]}% | ${b[6]}% / ${n[6]}% | ${b[4]}% / ${n[4]}% | ${b[5]} / ${n[5]} |")
      rates_b+=("${b[0]}") rates_n+=("${n[0]}") cpu_b+=("${b[2]}") cpu_n+=("${n[2]}") ratios+=("$ratio") cratios+=("$cratio")
    done
    hs_rows+=("| **$kind, median** | $ROUNDS | **$(median %.0f "${rates_b[@]}")** | **$(median %.0f "${rates_n[@]}")** | **$(median %.2f "${ratios[@]}")** | **$(median %.0f "${cpu_b[@]}") / $(median %.0f "${cpu_n[@]}") µs** | **$(median %.2f "${cratios[@]}")** | | | | | |")
  done
}

# ---- idle ----
idle_rows=()
idle() {
  local server name rss0 hwm0 rss1 hwm1 ready hold probe_line est ka_s hold_pid i
  ka_s=$(duration_s "$KEEP_ALIVE")
  for server in beacon nginx; do
    name=idle-$server
    local busy
    busy=$(wait_quiet "$QUIET_WAIT" "$SERVER_CPU" "$CLIENT_CPU")
    [[ -z $busy ]] || notes+=("$name started while a core was ${busy}% busy")
    start_server "$server" "$name" "$ka_s" $((IDLE_CONNS + 1000))
    sleep 1
    rss0=$(rss_kib "$server_pid")
    hwm0=$(hwm_kib "$server_pid")
    echo "== $IDLE_CONNS idle TLS connections held open on $server (RSS before $(mib "$rss0") MiB)"
    # Held for as long as the measurement needs; the script stops it.
    taskset -c "$CLIENT_CPU" "$tlsload_bin" hold "$port" --conns "$IDLE_CONNS" --sources "$SOURCES" \
      --timeout 60 --ready-timeout "$IDLE_READY_TIMEOUT" --seconds $((IDLE_READY_TIMEOUT + PROBES + 120)) \
      >"$out/$name.txt" 2>"$out/$name.progress" &
    hold_pid=$!
    pids+=("$hold_pid")
    for i in $(seq $((IDLE_READY_TIMEOUT * 2 + 20))); do
      grep -q '^READY ' "$out/$name.txt" && break
      kill -0 "$hold_pid" 2>/dev/null || die "tlsload hold exited: $(cat "$out/$name.txt")"
      sleep 0.5
    done
    ready=$(grep '^READY ' "$out/$name.txt") || die "tlsload hold never got ready; see $out/$name.progress"
    est=$(field established "$ready")
    echo "   $ready"
    sleep 2  # the last answers are written; the server's allocations settle
    rss1=$(rss_kib "$server_pid")
    # A fresh client while the connections are held.
    probe_line=$(taskset -c "$CLIENT_CPU" python3 "$here/probe.py" "$port" "$ca" --count "$PROBES" \
      --timeout 5 --source 127.0.0.1 --out "$out/$name.probe" | grep '^PROBE ')
    echo "   $probe_line"
    rss1=$(( $(rss_kib "$server_pid") > rss1 ? $(rss_kib "$server_pid") : rss1 ))
    hwm1=$(hwm_kib "$server_pid")
    stop_and_forget "$hold_pid"
    hold=$(grep '^HOLD ' "$out/$name.txt" || echo "HOLD idle_open=?")
    echo "   $hold"
    stop_and_forget "$server_pid"
    local per
    per=$(awk -v a="$rss0" -v b="$rss1" -v n="$est" 'BEGIN { printf "%.1f", (n > 0 ? (b - a) / n : 0) }')
    idle_rows+=("| $server | $IDLE_CONNS | $est | $(field pending "$ready") / $(field failed "$ready") | $(mib "$rss0") | $(mib "$rss1") | $per | $(mib "$hwm1") | $(field answered "$probe_line")/$PROBES | $(field p50_ms "$probe_line") ms | $(field max_ms "$probe_line") ms | $(field idle_open "$hold") |")
    [[ $(field errors "$ready") == - ]] || notes+=("$name: connection errors while opening: $(field errors "$ready")")
  done
}

for s in $SCENARIOS; do
  case $s in
    handshake) handshake ;;
    idle) idle ;;
    *) die "unknown scenario '$s'" ;;
  esac
done

# ---- report ----
{
  machine_line
  echo "Versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(openssl version | cut -d' ' -f1-2), beacon $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- common beacon || echo '+changes')"
  echo "Run $stamp: servers on CPU $SERVER_CPU, tlsload and probes on CPU $CLIENT_CPU, $SOURCES source addresses${BEACON_EXTRA:+, BEACON_EXTRA: $(tr '\n' ';' <<<"$BEACON_EXTRA")}"
  if [[ " $SCENARIOS " == *" handshake "* ]]; then
    echo
    echo "New TLS connection per request (GET /v1/ping; mtls kinds: GET /v1/trust with device 1's certificate; Connection: close), $HS_CONNS in parallel, ${HS_SECONDS}s per run:"
    echo
    echo "| handshake | round | beacon conn/s | nginx conn/s | ratio | server CPU per connection (b / n) | ratio by CPU | p99 (b / n) | server CPU (b / n) | tlsload CPU (b / n) | resumed (b / n) | errors (b / n) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${hs_rows[@]}"
  fi
  if [[ " $SCENARIOS " == *" idle "* ]]; then
    echo
    echo "Idle keep-alive TLS connections (one GET /v1/ping answered on each), keep-alive timeout $KEEP_ALIVE:"
    echo
    echo "| server | asked | established | still handshaking / failed | RSS before MiB | RSS held MiB | KiB per established connection | peak (VmHWM) MiB | probes answered | probe p50 | probe max | established still open at the end |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${idle_rows[@]}"
  fi
  if ((${#notes[@]})); then
    echo
    for n in "${notes[@]}"; do echo "- $n"; done
  fi
} | tee "$out/summary.md"
echo
echo "raw outputs: $out"
