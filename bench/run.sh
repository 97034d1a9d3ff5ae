#!/usr/bin/env bash
# Benchmarks a central beacon against nginx on loopback, same machine, same
# certificate, same core. See docs/benchmarks.md for results and how to read them.
#
#   bench/run.sh
#
# Settings (environment variables):
#   THREADS=16            beacon `workers` (handler pool) for every scenario
#   THREADS_SWEEP=""      extra beacon `workers` values for the largest check-in run,
#                         e.g. "256 1024" (beacon only; compared with the same nginx run)
#   DURATION=10s          wrk -d for each measured run
#   CHECKIN_CONNS="50 1000"   connections for the check-in scenarios
#   UPLOAD_CONNS=16       connections for the upload scenario
#   WRK_THREADS=1         wrk -t (wrk is pinned to one core, so 1 is usually best)
#   SERVER_CPU=0          core the servers are pinned to
#   CLIENT_CPU=1          core wrk is pinned to
#   BUILD_DIR=build-bench Release build used for the beacon (built if needed)
#   RESULTS=bench/results raw outputs go to RESULTS/<timestamp>/
#   QUIET_WAIT=120        before each measured run, wait up to this many seconds for
#                         both cores to be idle (other work on the machine skews
#                         results); a run that started on a busy machine is noted
#
# What runs: for each scenario, a central beacon (store = sqlite, a small policy
# folder) is started, checked with curl, loaded with wrk, measured and stopped;
# then nginx (worker_processes 1, TLS 1.3, keep-alive, the same ECDSA
# certificate, asking for and verifying client certificates from the same
# estate CA: ssl_verify_client on) is started, checked, loaded, measured and
# stopped. Only one server
# runs while the other is measured, so the beacon's importer cannot steal the
# core from nginx. nginx serves the manifest as a static file (with its ETag, so
# If-None-Match gives 304) and takes uploads with `dav_methods PUT`; it does NOT
# fsync them, while the beacon answers 201 only after fsync (spool) and then
# imports each upload into SQLite (synchronous = FULL) on the same core.
#
# Mutual TLS (docs/identity.md): wrk presents the estate certificate of a
# beacon named "load" (through bench/wrk_client_cert.c, an LD_PRELOAD shim:
# Debian's wrk has no client-certificate option). One wrk process stands
# for 1000 devices, and only a beacon certificate may act for any device,
# as a relay does. It sends no X-Beacon-Via: with one the beacon would skip
# the check-in record it makes for a device's own request, and the run
# would measure less work than devices cause. The curl checks and the
# mid-run probe present device 1's own certificate (beaconctl device issue).
set -euo pipefail

me=run.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

THREADS=${THREADS:-16}
THREADS_SWEEP=${THREADS_SWEEP:-}
DURATION=${DURATION:-10s}
CHECKIN_CONNS=${CHECKIN_CONNS-50 1000}
UPLOAD_CONNS=${UPLOAD_CONNS-16}
WRK_THREADS=${WRK_THREADS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUILD_DIR=${BUILD_DIR:-$root/build-bench}
RESULTS=${RESULTS:-$here/results}
QUIET_WAIT=${QUIET_WAIT:-120}
RETRIES=${RETRIES:-3}
OTHER_MAX=${OTHER_MAX:-15}

# Install what is missing (Debian packages), as the README's commands do.
"$root/scripts/install-deps.sh"
install_nginx
install_packages wrk curl sqlite3
require_tools wrk curl taskset sha256sum sqlite3 openssl cmake gcc /usr/bin/time

# 1000 connections need 1000+ descriptors in wrk, nginx and the beacon.
ulimit -n "$(ulimit -Hn)"
max_conns=0
for c in $CHECKIN_CONNS $UPLOAD_CONNS; do
  if ((c > max_conns)); then max_conns=$c; fi
done
if (($(ulimit -n) < max_conns + 100)); then
  echo "run.sh: open-file limit $(ulimit -n) is too low for $max_conns connections" >&2
  exit 1
fi

build_beacon "$BUILD_DIR" Release
build_wrk_cert "$BUILD_DIR"

# ---- work area ----
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$RESULTS/$stamp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/beacon-bench.XXXXXX)
cleanup_dirs+=("$tmp")
bench_trap

# Certificates, and a small policy folder: the shipped samples (default/ and a
# servers group), as a first deployment might publish.
make_certs_and_policy "$tmp"
# The estate CA, the central's certificate, "load" (wrk's, etags.py's) and
# device 1's (curl's).
make_identities 1 central load
dev_cert=(--cert "$(device_pem 1)" --key "$(device_key 1)")
# nginx checks client certificates as the beacon does (a request without
# one would get 400; wrk and curl always present one).
nginx_verify=on

# The upload body: 100 KiB of random bytes, hashed once.
body=$tmp/body.bin
head -c 102400 /dev/urandom >"$body"
body_sha=$(sha256sum "$body" | cut -d' ' -f1)

device=$(bench_device 1)   # device_id(1) in bench/common.lua
export BENCH_DIR=$here

# ---- servers ----
beacon_pid=""
nginx_pid=""
port=""

start_beacon() {  # THREADS
  port=$(free_port)
  # wrk's connections all come from one address: the per-address cap is lifted.
  start_central "$tmp/beacon-data" "$port" "$out/beacon.log" "$SERVER_CPU" \
    "workers = $1"$'\n'"max_connections_per_address = 100000"
  cp "$tmp/beacon-data.conf" "$out/beacon-threads$1.conf"
  beacon_pid=$central_pid
  server_pid=$beacon_pid
}

start_nginx() {
  local n=$tmp/nginx
  port=$(free_port)
  rm -rf "$n"
  # The manifest nginx serves is the beacon's own manifest for this policy folder.
  mkdir -p "$n/static"
  cp "$tmp/manifest.xml" "$n/static/manifest.xml"
  # Every device gets the same static manifest; nginx's ETag is mtime-size,
  # and If-None-Match with it is answered 304. PUT stores the body at
  # uploads/<path>; nginx writes it to a temp file and renames it, with no fsync.
  write_nginx_conf "$n" "$port" 4096 "  keepalive_timeout 5s;       # the beacon's keep_alive_timeout default
  keepalive_requests 10000;   # the beacon's keep-alive request cap" \
    "    location ~ \"^/v1/devices/[0-9a-f-]{36}/manifest\$\" {
      default_type application/xml;
      alias $n/static/manifest.xml;
    }"
  cp "$n/nginx.conf" "$out/nginx.conf"
  start_nginx_dir "$n" "$port" "$SERVER_CPU"
  server_pid=$nginx_pid
}

# ---- checks before a measured run ----
get_etag() {  # URL -> the ETag of a 200 answer
  curl -sS -D - -o /dev/null --cacert "$ca" "${dev_cert[@]}" -H "X-Beacon-Device: $device" "$1" |
    awk 'tolower($1) == "etag:" { sub(/\r$/, ""); $1 = ""; sub(/^ /, ""); print }'
}

expect_status() {  # WANT LABEL CURL-ARGS...: one request must answer WANT
  local want=$1 label=$2 got
  shift 2
  got=$(curl -sS -o "$tmp/check-body" -w '%{http_code}' --cacert "$ca" "${dev_cert[@]}" "$@")
  if [[ $got != "$want" ]]; then
    echo "run.sh: $label answered $got, expected $want:" >&2
    cat "$tmp/check-body" >&2
    exit 1
  fi
}

# A fresh connection's wait while the server is under load: one check-in by curl
# started a third of the way into the run. With fewer beacon threads than open
# connections this is where queued connections show (wrk only times requests
# that were answered).
probe() {  # URL ETAG DELAY_S FILE
  sleep "$3"
  curl -sS -o /dev/null --max-time 20 --cacert "$ca" "${dev_cert[@]}" -w '%{http_code} %{time_total}\n' \
    -H "X-Beacon-Device: $device" -H "If-None-Match: $2" "$1" >"$4" 2>&1 || echo "timeout 20" >>"$4"
}

dur_s=$(duration_s "$DURATION")

# Waits (at most QUIET_WAIT s) until neither core was more than 10% busy for a
# second; notes the run if the machine never went quiet.
quiet_or_note() {  # NAME
  local busy
  busy=$(wait_quiet "$QUIET_WAIT" "$SERVER_CPU" "$CLIENT_CPU")
  [[ -z $busy ]] || notes+=("$1 started while another process kept a core ${busy}% busy; its numbers are suspect")
}

others_top() {  # BEFORE AFTER: the five processes that used the most CPU in between
  awk 'NR == FNR { t[$1] = $NF; next } { d = $NF - ($1 in t ? t[$1] : 0); if (d > 0) print d, $0 }' "$1" "$2" |
    sort -rn | head -5 | awk '{ printf "busiest: pid %s %s %d jiffies\n", $2, $3, $1 }'
}

# run_wrk NAME CONNS SCRIPT URL PROBE_PATH ARGS... (an argument @TAG@ becomes
# the attempt's run tag, also left in $run_tag) -> writes $out/NAME.txt, sets w_* globals
# Uses $server_pid for the CPU accounting.
run_wrk() {
  local name=$1 conns=$2 script=$3 url=$4 path=$5
  shift 5
  local t=$WRK_THREADS attempt
  if ((t > conns)); then t=$conns; fi
  local before0 before1 after0 after1 sv0 sv1 wrk_cpu probe_pid
  for attempt in $(seq "$RETRIES"); do
    quiet_or_note "$name"
    # A fresh tag per attempt: bench/upload.lua builds its upload ids from it, so a
    # repeated attempt never re-sends an id the server already stored.
    run_tag=$(printf '%08x' $((RANDOM * 32768 + RANDOM)))
    local args=() a
    for a in "$@"; do args+=("${a//@TAG@/$run_tag}"); done
    cat /proc/stat >"$out/$name.stat-before"
    others_snapshot >"$out/$name.procs-before"
    probe "$url$path" "${probe_etag:-none}" $((dur_s / 3)) "$out/$name.probe" &
    probe_pid=$!
    read -r -a before0 <<<"$(cpu_ticks "$SERVER_CPU")"
    read -r -a before1 <<<"$(cpu_ticks "$CLIENT_CPU")"
    sv0=$(proc_ticks "$server_pid")
    timeout $((dur_s + 60)) taskset -c "$CLIENT_CPU" /usr/bin/time -f 'wrk_cpu_s=%U+%S' \
      env LD_PRELOAD="$wrk_cert_so" WRK_CLIENT_CERT="$pki/load.pem" WRK_CLIENT_KEY="$pki/load.key" \
      wrk -t"$t" -c"$conns" -d"$DURATION" --timeout 10s --latency -s "$here/$script" "$url" -- "${args[@]}" \
      >"$out/$name.txt" 2>&1 || { echo "run.sh: wrk failed, see $out/$name.txt" >&2; cat "$out/$name.txt" >&2; exit 1; }
    grep -q '^wrk_client_cert: presenting ' "$out/$name.txt" ||
      { echo "run.sh: wrk presented no client certificate, see $out/$name.txt" >&2; exit 1; }
    sv1=$(proc_ticks "$server_pid")
    cat /proc/stat >"$out/$name.stat-after"
    others_snapshot >"$out/$name.procs-after"
    read -r -a after0 <<<"$(cpu_ticks "$SERVER_CPU")"
    read -r -a after1 <<<"$(cpu_ticks "$CLIENT_CPU")"
    wait "$probe_pid" || true
    wrk_cpu=$(sed -n 's/^wrk_cpu_s=//p' "$out/$name.txt" | awk -F+ '{ printf "%.0f", ($1 + $2) * 100 }')
    # Percent of one core: the server core, the client core, the server
    # process, and everything else (other processes; also kernel softirq work
    # not charged to a process, which is small on loopback).
    local span=$(( (after0[1] - before0[1] + after1[1] - before1[1]) / 2 ))
    cpu_server=$(( 100 * (after0[0] - before0[0]) / span ))
    cpu_client=$(( 100 * (after1[0] - before1[0]) / span ))
    cpu_proc=$(( 100 * (sv1 - sv0) / span ))
    cpu_other=$(( 100 * (after0[0] - before0[0] + after1[0] - before1[0] - (sv1 - sv0) - ${wrk_cpu:-0}) / span ))
    echo "cpu$SERVER_CPU=${cpu_server}% cpu$CLIENT_CPU=${cpu_client}% server_process=${cpu_proc}% wrk=$(( 100 * ${wrk_cpu:-0} / span ))% other=${cpu_other}% load=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/$name.txt"
    others_top "$out/$name.procs-before" "$out/$name.procs-after" >>"$out/$name.txt"
    if ((cpu_other <= OTHER_MAX)); then break; fi
    if ((attempt == RETRIES)); then
      notes+=("$name: other processes used ${cpu_other}% of a core during the run (after $RETRIES attempts); its numbers are suspect")
    else
      mv "$out/$name.txt" "$out/$name.attempt$attempt.txt"
      echo "   (other processes used ${cpu_other}% of a core; repeating)"
    fi
  done
  local line
  line=$(grep '^BENCH ' "$out/$name.txt") || { echo "run.sh: no summary in $out/$name.txt" >&2; exit 1; }
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  w_rps=$(field rps)
  w_p99=$(awk -v us="$(field p99_us)" 'BEGIN { printf "%.1f ms", us / 1000 }')
  w_errors=$({ grep -o 'Non-2xx or 3xx responses: [0-9]*' "$out/$name.txt" || true; } | awk '{print $NF}')
  w_errors=${w_errors:-0}
  local sock
  sock=$(( $(field err_connect) + $(field err_read) + $(field err_write) ))
  w_timeouts=$(field err_timeout)
  w_socket=$sock
  w_statuses=$(field statuses)
  w_probe=$(awk '{ if ($1 == "timeout") print ">20 s (no answer)"; else printf "%s in %.3f s", $1, $2 }' "$out/$name.probe" | tail -1)
}

# ---- scenarios ----
rows=()
notes=()

# Writes the beacon's manifest (for nginx to serve) and returns its ETag.
start_beacon "$THREADS"
curl -sS --cacert "$ca" "${dev_cert[@]}" -H "X-Beacon-Device: $device" \
  "https://127.0.0.1:$port/v1/devices/$device/manifest" >"$tmp/manifest.xml"
revision=$(sed -n 's/.*revision="\([0-9]*\)".*/\1/p' "$tmp/manifest.xml" | head -1)
stop_and_forget "$beacon_pid"

# checkin CONNS BEACON_THREADS [beacon-only]
checkin() {
  local conns=$1 threads=$2 only_beacon=${3:-}
  local url etag b_rps b_p99 b_err b_rss b_cpu b_probe b_sock
  local tag="checkin-c$conns"

  start_beacon "$threads"
  url=https://127.0.0.1:$port
  etag=$(get_etag "$url/v1/devices/$device/manifest")
  [[ -n $etag ]] || { echo "run.sh: beacon sent no ETag" >&2; exit 1; }
  expect_status 304 "beacon check-in" -H "X-Beacon-Device: $device" -H "If-None-Match: $etag" \
    "$url/v1/devices/$device/manifest"
  probe_etag=$etag
  echo "== $tag beacon (threads=$threads): wrk -t$WRK_THREADS -c$conns -d$DURATION"
  # Each device has its own signed manifest and ETag; fetching them also
  # resolves every device once, as devices in service would have been.
  python3 "$here/etags.py" 127.0.0.1 "$port" "$ca" 1000 "$pki/load.pem" "$pki/load.key" >"$tmp/etags.txt"
  run_wrk "$tag-beacon-t$threads" "$conns" checkin.lua "$url" "/v1/devices/$device/manifest" "@$tmp/etags.txt" "$revision"
  b_rps=$w_rps b_p99=$w_p99 b_err=$w_errors b_cpu=$cpu_proc b_probe=$w_probe
  b_sock="$w_socket/$w_timeouts"
  b_rss=$(peak_rss_mib "$beacon_pid")
  stop_and_forget "$beacon_pid"

  if [[ -z $only_beacon ]]; then
    start_nginx
    url=https://127.0.0.1:$port
    etag=$(get_etag "$url/v1/devices/$device/manifest")
    [[ -n $etag ]] || { echo "run.sh: nginx sent no ETag" >&2; exit 1; }
    expect_status 304 "nginx check-in" -H "X-Beacon-Device: $device" -H "If-None-Match: $etag" \
      "$url/v1/devices/$device/manifest"
    probe_etag=$etag
    echo "== $tag nginx: wrk -t$WRK_THREADS -c$conns -d$DURATION"
    run_wrk "$tag-nginx" "$conns" checkin.lua "$url" "/v1/devices/$device/manifest" "$etag" "$revision"
    n_rps=$w_rps n_p99=$w_p99 n_err=$w_errors n_cpu=$cpu_proc n_probe=$w_probe
    n_sock="$w_socket/$w_timeouts"
    n_rss=$(peak_rss_mib "$nginx_pid")
    stop_and_forget "$nginx_pid"
    eval "nginx_c${conns}=(\"\$n_rps\" \"\$n_p99\" \"\$n_err\" \"\$n_rss\" \"\$n_cpu\" \"\$n_probe\" \"\$n_sock\")"
  else
    eval "n_rps=\${nginx_c${conns}[0]} n_p99=\${nginx_c${conns}[1]} n_err=\${nginx_c${conns}[2]}"
    eval "n_rss=\${nginx_c${conns}[3]} n_cpu=\${nginx_c${conns}[4]} n_probe=\${nginx_c${conns}[5]} n_sock=\${nginx_c${conns}[6]}"
  fi
  add_row "check-in 304 (threads=$threads)" "$conns" "$b_rps" "$n_rps" "$b_p99" "$n_p99" \
    "$b_err / $n_err" "$b_sock / $n_sock" "$b_rss / $n_rss" "$b_cpu% / $n_cpu%" "$b_probe / $n_probe"
}

add_row() {  # SCENARIO CONNS B_RPS N_RPS B_P99 N_P99 ERRORS SOCKET RSS CPU PROBE
  local ratio
  ratio=$(awk -v b="$3" -v n="$4" 'BEGIN { printf "%.2f", (n > 0 ? b / n : 0) }')
  rows+=("| $1 | $2 | $(printf '%.0f' "$3") | $(printf '%.0f' "$4") | $ratio | $5 | $6 | $7 | $8 | $9 | ${10} | ${11} |")
}

# Waits (bounded) until the importer has emptied the spool; prints the seconds waited.
wait_spool_empty() {  # DATA_DIR
  local i n
  for i in $(seq 0 600); do
    n=$(find "$1/spool/ready" -type f | wc -l)
    ((n == 0)) && { echo "$((i / 2))"; return 0; }
    sleep 0.5
  done
  echo "timeout"
}

upload() {
  local conns=$1 threads=$THREADS
  local url tag="upload-c$conns" b_rps b_p99 b_err b_rss b_cpu b_probe b_sock b_201 stored ready drained
  start_beacon "$threads"
  url=https://127.0.0.1:$port
  expect_status 201 "beacon upload" -X PUT -H "X-Beacon-Device: $device" \
    -H "X-Beacon-Content-SHA256: $body_sha" --data-binary "@$body" \
    "$url/v1/devices/$device/uploads/logs/00000000-0000-4000-8000-000000000001"
  probe_etag=$(get_etag "$url/v1/devices/$device/manifest")
  echo "== $tag beacon (threads=$threads): wrk -t$WRK_THREADS -c$conns -d$DURATION"
  run_wrk "$tag-beacon-t$threads" "$conns" upload.lua "$url" "/v1/devices/$device/manifest" "$body" "$body_sha" @TAG@
  b_rps=$w_rps b_p99=$w_p99 b_err=$w_errors b_cpu=$cpu_proc b_probe=$w_probe b_sock="$w_socket/$w_timeouts"
  b_201=$(tr ',' '\n' <<<"$w_statuses" | awk -F: '$1 == 201 { print $2 }')
  b_201=${b_201:-0}
  b_statuses=$w_statuses
  b_rss=$(peak_rss_mib "$beacon_pid")
  ready=$(find "$tmp/beacon-data/spool/ready" -type f | wc -l)
  drained=$(wait_spool_empty "$tmp/beacon-data")
  stored=$(sqlite3 "file:$tmp/beacon-data/store.sqlite?mode=ro" \
    "SELECT count(*) FROM uploads WHERE kind = 'logs' AND upload_id LIKE '$run_tag-%'")
  stop_and_forget "$beacon_pid"
  notes+=("beacon upload run: wrk statuses $b_statuses; $ready uploads still in spool/ready when wrk stopped, importer emptied the spool ${drained}s later; store holds $stored uploads of this run (wrk counted $b_201 answers 201)")
  if ((stored < b_201)); then
    echo "run.sh: beacon answered 201 $b_201 times but stored only $stored uploads" >&2
    exit 1
  fi

  start_nginx
  url=https://127.0.0.1:$port
  expect_status 201 "nginx upload" -X PUT -H "X-Beacon-Device: $device" \
    -H "X-Beacon-Content-SHA256: $body_sha" --data-binary "@$body" \
    "$url/v1/devices/$device/uploads/logs/00000000-0000-4000-8000-000000000001"
  probe_etag=$(get_etag "$url/v1/devices/$device/manifest")
  echo "== $tag nginx: wrk -t$WRK_THREADS -c$conns -d$DURATION"
  run_wrk "$tag-nginx" "$conns" upload.lua "$url" "/v1/devices/$device/manifest" "$body" "$body_sha" @TAG@
  local n_201 n_files
  n_201=$(tr ',' '\n' <<<"$w_statuses" | awk -F: '$1 == 201 { print $2 }')
  n_201=${n_201:-0}
  n_rss=$(peak_rss_mib "$nginx_pid")
  n_files=$(find "$tmp/nginx/uploads" -type f -name "$run_tag-*" | wc -l)
  stop_and_forget "$nginx_pid"
  notes+=("nginx upload run: wrk statuses $w_statuses; $n_files files of this run on disk (not fsynced)")
  if ((n_files < n_201)); then
    echo "run.sh: nginx answered 201 $n_201 times but wrote only $n_files files" >&2
    exit 1
  fi
  add_row "upload 100 KiB" "$conns" "$b_rps" "$w_rps" "$b_p99" "$w_p99" \
    "$b_err / $w_errors" "$b_sock / $w_socket/$w_timeouts" "$b_rss / $n_rss" "$b_cpu% / $cpu_proc%" "$b_probe / $w_probe"
}

for c in $CHECKIN_CONNS; do checkin "$c" "$THREADS"; done
last_conns=${CHECKIN_CONNS##* }
for t in $THREADS_SWEEP; do checkin "$last_conns" "$t" beacon-only; done
for c in $UPLOAD_CONNS; do upload "$c"; done

# ---- report ----
{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
  echo "Versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), $(openssl version)"
  echo "Run $stamp: DURATION=$DURATION THREADS=$THREADS WRK_THREADS=$WRK_THREADS, servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
  echo
  echo "| scenario | conns | beacon req/s | nginx req/s | ratio | beacon p99 | nginx p99 | non-2xx/3xx (b / n) | socket errors/timeouts (b / n) | peak RSS MiB (b / n) | server process CPU (b / n) | fresh connection mid-run (b / n) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  for n in "${notes[@]}"; do echo "- $n"; done
} | tee "$out/summary.md"
echo
echo "raw outputs: $out"
