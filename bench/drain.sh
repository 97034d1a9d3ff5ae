#!/usr/bin/env bash
# How fast a relay drains a backlog once its upstream returns, against nginx
# in the same run. See docs/benchmarks.md ("Relay backlog drain") for results.
#
#   bench/drain.sh
#
# Settings (environment variables):
#   UPLOADS=5000          uploads in the backlog
#   RUNS=3                rounds; each round runs every scenario once, and
#                         even rounds run them in reverse order
#   SCENARIOS="relay-central relay-nginx curl-nginx curl-central"
#   BODY_BYTES=8704       target size of each gzip inventory body (about 8.5 KiB)
#   LOAD_PARALLEL=8       parallel PUTs (curl --parallel) that fill the relay
#   BACKOFF_MIN=30        seconds: the upstream returns only after the relay's
#                         log shows a backoff at least this long
#   BACKOFF_CAP=10m       relay_backoff_cap of the relay
#   PROBE_INTERVAL=5s     relay_probe_interval of the relay
#   SENDER_CPU=1          core of the relay and of curl (the senders)
#   RECEIVER_CPU=0        core of the central and of nginx (the receivers)
#   BUILD_DIR=build       the build to use (built with -j2 if a binary is missing)
#   RESULTS=bench/results raw outputs go to RESULTS/drain-<timestamp>/
#   BACKOFF_TIMEOUT=900   seconds to wait for the long backoff
#   DRAIN_TIMEOUT=1800    seconds to wait for a drain (and the central's import)
#   CURL_CENTRAL_STORE=0  1: curl-central also waits for the importer to store
#                         everything (slow; relay-central always measures it)
#
# Scenarios (each starts its processes afresh, on loopback only):
#   relay-central  a relay (upstream = a central with store = sqlite) takes
#                  UPLOADS inventories while the central is stopped, backs off
#                  until its log shows a delay of BACKOFF_MIN s or more; the
#                  central is started again and the drain is timed.
#   relay-nginx    the same with nginx (dav_methods PUT) as the relay's
#                  upstream: the relay's own sending cost, without the
#                  central's fsyncs and import.
#   curl-nginx     the reference: the same bodies PUT one after the other by
#                  one curl over one kept-alive TLS connection to nginx.
#   curl-central   the same curl run against a central: what the central
#                  takes from one sequential sender, and its importer.
# nginx stores each body: dav_methods PUT reads it into client_body_temp_path
# and renames it into the location's root; both are on tmpfs (/dev/shm), with
# no fsync. The beacons' data directories are on the disk under /tmp and
# fsync as in production.
set -euo pipefail

me=drain.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

UPLOADS=${UPLOADS:-5000}
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-relay-central relay-nginx curl-nginx curl-central}
BODY_BYTES=${BODY_BYTES:-8704}
LOAD_PARALLEL=${LOAD_PARALLEL:-8}
BACKOFF_MIN=${BACKOFF_MIN:-30}
BACKOFF_CAP=${BACKOFF_CAP:-10m}
PROBE_INTERVAL=${PROBE_INTERVAL:-5s}
SENDER_CPU=${SENDER_CPU:-1}
RECEIVER_CPU=${RECEIVER_CPU:-0}
BUILD_DIR=${BUILD_DIR:-$root/build}
RESULTS=${RESULTS:-$here/results}
BACKOFF_TIMEOUT=${BACKOFF_TIMEOUT:-900}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-1800}
CURL_CENTRAL_STORE=${CURL_CENTRAL_STORE:-0}

# ---- tools ----
"$root/scripts/install-deps.sh"
install_nginx
install_packages curl sqlite3
require_tools curl sqlite3 taskset python3 openssl cmake /usr/bin/time
ulimit -n "$(ulimit -Hn)"

# ---- build ----
build_beacon "$BUILD_DIR" RelWithDebInfo
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")

# ---- work area ----
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$RESULTS/drain-$stamp
mkdir -p "$out"
tmp=$(mktemp -d /tmp/beacon-drain.XXXXXX)   # beacons' data: on disk, fsync is real
shm=$(mktemp -d /dev/shm/beacon-drain.XXXXXX) # bodies and nginx's files: tmpfs
cleanup_dirs+=("$tmp" "$shm")
bench_trap
ms_now() { date +%s%3N; }

make_certs_and_policy "$tmp"
# The estate CA and the beacons' certificates: the central's (nginx serves
# it too), the relay's, and "load", which curl presents: it uploads for
# 5,000 devices, which only a beacon certificate may do (docs/identity.md).
make_identities 0 central relay load
# nginx, as an upstream, insists on a client certificate as the central does
# (the relay presents its own).
nginx_verify=on

# ---- helpers in Python (written here so the bench stays one file) ----

# bodies.py DIR COUNT TARGET_BYTES: COUNT gzip inventories (one device each,
# this machine's package list, about TARGET_BYTES each after gzip), an index
# and a curl config per body whose URL host:port is the word @HOSTPORT@.
cat >"$tmp/bodies.py" <<'PY'
import gzip, hashlib, os, subprocess, sys
from xml.sax.saxutils import quoteattr

out, count, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    listed = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${Architecture}\n"],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    pkgs = [tuple(l.split("\t")) for l in listed if l.count("\t") == 2]
except (OSError, subprocess.CalledProcessError):
    pkgs = []
if len(pkgs) < 50:
    pkgs = [("package-%04d" % i, "1.%d.%d-%d" % (i % 7, i % 13, i % 3), "amd64") for i in range(2000)]
base = list(pkgs)
while len(pkgs) < 4000:  # enough to reach the target on a small system
    pkgs += [(n + "-extra%d" % len(pkgs), v, a) for n, v, a in base]

def document(device, host, n):
    rows = "".join('    <package name=%s version=%s arch=%s source="dpkg" />\n'
                   % (quoteattr(p), quoteattr(v), quoteattr(a)) for p, v, a in pkgs[:n])
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<inventory version="1" device="%s" collected="2026-11-22T16:00:00Z">\n'
            '  <os name="Debian GNU/Linux" id="debian" version="12 (bookworm)" version-id="12" '
            'pretty-name="Debian GNU/Linux 12 (bookworm)" kernel="6.1.0-18-amd64" arch="x86_64" hostname="%s" />\n'
            '  <hardware vendor="QEMU" model="Standard PC (Q35 + ICH9, 2009)" serial="SN-%s" '
            'cpu-model="AMD EPYC" cpu-cores="2" memory-bytes="4125585408">\n'
            '    <disk name="vda" model="QEMU HARDDISK" size-bytes="21474836480" />\n'
            '    <interface name="eth0" mac="52:54:00:ab:cd:ef"><address value="192.0.2.10/24" /></interface>\n'
            '  </hardware>\n  <software>\n%s  </software>\n</inventory>\n'
            % (device, host, host, rows)).encode()

def gz(b):
    return gzip.compress(b, compresslevel=6, mtime=0)

probe = "d0000000-0000-4000-8000-000000000000"
n = 10
while n < len(pkgs) and len(gz(document(probe, "bench-00000", n))) < target:
    n += 10
index = open(os.path.join(out, "index.tsv"), "w")
cfg = open(os.path.join(out, "curl.cfg"), "w")
total = 0
for i in range(1, count + 1):
    device = "d0000000-0000-4000-8000-%012x" % i
    upload = "a0000000-0000-4000-8000-%012x" % i
    body = gz(document(device, "bench-%05d" % i, n))
    path = os.path.join(out, "%05d.gz" % i)
    with open(path, "wb") as f:
        f.write(body)
    sha = hashlib.sha256(body).hexdigest()
    total += len(body)
    index.write("%s\t%s\t%s\t%s\t%d\n" % (device, upload, sha, path, len(body)))
    if i > 1:
        cfg.write("next\n")  # a group per upload; no empty group at the end
    cfg.write('url = "https://@HOSTPORT@/v1/devices/%s/uploads/inventory/%s"\n'
              'upload-file = "%s"\nheader = "X-Beacon-Device: %s"\n'
              'header = "X-Beacon-Content-SHA256: %s"\nheader = "Content-Type: application/gzip"\n'
              'cacert = "@CA@"\ncert = "@CERT@"\nkey = "@KEY@"\nhttp1.1\nsilent\nshow-error\noutput = "/dev/null"\n'
              'write-out = "%%{http_code} %%{num_connects}\\n"\n'
              % (device, upload, path, device, sha))
print("packages=%d body_bytes_mean=%d" % (n, total // count))
PY

# monitor.py KEY=VALUE...: started just before an upstream; polls its port
# until a TCP connect succeeds (t_up), then the relay's ready/ (every 10 ms
# until the first removal, then every 50 ms) and, for a central, its store.
# Prints one line of results; writes a time series.
cat >"$tmp/monitor.py" <<'PY'
import os, socket, sqlite3, sys, time

a = dict(x.split("=", 1) for x in sys.argv[1:])
port, timeout = int(a["port"]), float(a["timeout"])
ready, store, expect = a.get("ready"), a.get("store"), int(a["expect"])
relay_pid, up_pidfile = a.get("relay_pid"), a.get("upstream_pidfile")
hz = os.sysconf("SC_CLK_TCK")

def ticks(pid):
    # utime + stime of the process and its children (nginx's worker)
    try:
        with open("/proc/%s/task/%s/children" % (pid, pid)) as f:
            kids = f.read().split()
    except OSError:
        kids = []
    total = None
    for p in [pid] + kids:
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read().rsplit(")", 1)[1].split()
            total = (total or 0) + int(s[11]) + int(s[12])
        except (OSError, IndexError, ValueError, TypeError):
            pass
    return total

def count_ready():
    return sum(1 for e in os.scandir(ready) if e.name.endswith(".upl"))

con = None
def count_store():
    global con
    try:
        if con is None:
            con = sqlite3.connect("file:%s?mode=ro" % store, uri=True, timeout=1)
        # fetchall() finishes the statement: an active one would hold a read
        # transaction open and keep the central's WAL from being checkpointed.
        cur = con.execute("SELECT count(*) FROM uploads WHERE kind = 'inventory'")
        n = cur.fetchall()[0][0]
        cur.close()
        return n
    except sqlite3.Error:
        con = None
        return -1

start = time.monotonic()
while True:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        break
    except OSError:
        if time.monotonic() - start > 120:
            print("monitor: upstream never listened"); sys.exit(1)
        time.sleep(0.002)
    finally:
        s.close()
t_up = time.monotonic()
n0 = count_ready() if ready else 0
r0 = ticks(relay_pid) if relay_pid else None
up_pid = None
u0 = None
t_first = t_empty = t_store = None
r_empty = u_store = u_empty = None
series = []
i = 0
while time.monotonic() - t_up < timeout:
    now = time.monotonic()
    if up_pid is None and up_pidfile and os.path.exists(up_pidfile):
        up_pid = open(up_pidfile).read().strip() or None
        u0 = ticks(up_pid)
    n = count_ready() if ready else 0
    st = count_store() if store and (i % 4 == 0 or t_empty is not None) else None
    series.append((now - t_up, n, st))
    if ready and t_first is None and n < n0:
        t_first = now
    if ready and t_empty is None and n == 0:
        t_empty, r_empty = now, ticks(relay_pid)
        u_empty = ticks(up_pid) if up_pid else None
    if store and t_store is None and st is not None and st >= expect:
        t_store, u_store = now, ticks(up_pid) if up_pid else None
    if (not ready or t_empty is not None) and (not store or t_store is not None):
        break
    i += 1
    time.sleep(0.01 if ready and t_first is None else 0.05)

def f(x):
    return "na" if x is None else "%.3f" % x
def cpu(t1, t0):
    return "na" if t1 is None or t0 is None else "%.2f" % ((t1 - t0) / hz)
print("n0=%d first_s=%s empty_s=%s store_s=%s relay_cpu_s=%s upstream_cpu_to_empty_s=%s upstream_cpu_to_store_s=%s"
      % (n0, f(t_first - t_up if t_first else None), f(t_empty - t_up if t_empty else None),
         f(t_store - t_up if t_store else None), cpu(r_empty, r0), cpu(u_empty, u0), cpu(u_store, u0)))
with open(a["series"], "w") as out:
    for t, n, st in series:
        out.write("%.3f %d %s\n" % (t, n, "" if st is None else st))
PY

echo "== making $UPLOADS inventory bodies in $shm"
body_info=$(python3 "$tmp/bodies.py" "$shm" "$UPLOADS" "$BODY_BYTES")
echo "   $body_info"
packages=${body_info#packages=}; packages=${packages%% *}
body_mean=${body_info##*body_bytes_mean=}

# A warm-up upload (kind logs, not counted) that proves the path works.
warm_body=$tmp/warm.bin
head -c 4096 /dev/urandom >"$warm_body"
warm_sha=$(sha256sum "$warm_body" | cut -d' ' -f1)
warm_dev=c0000000-0000-4000-8000-000000000001

curl_cfg() {  # PORT -> path of a curl config for that port
  local f=$tmp/curl-$1.cfg
  [[ -f $f ]] || sed -e "s|@HOSTPORT@|127.0.0.1:$1|" -e "s|@CA@|$ca|" -e "s|@CERT@|$pki/load.pem|" \
    -e "s|@KEY@|$pki/load.key|" "$shm/curl.cfg" >"$f"
  echo "$f"
}

# ---- servers ----
# The central and nginx are launched without waiting for them: the monitor
# times the moment their port accepts.
central_pid=""
launch_central() {  # DATA PORT LOG [fresh]
  local data=$1 port=$2 log=$3
  if [[ ${4:-} == fresh ]]; then
    rm -rf "$data"
    mkdir -p "$data"
    cp -a "$estate/ca" "$data/ca"  # the CA that issued the certificates (lib.sh make_identities)
    "$ctl_bin" --data-dir "$data" --policy-dir "$tmp/policy" policy publish -m bench >/dev/null
  fi
  { beacon_conf central "$port" "$data"; cat <<EOF
store = sqlite
policy_signing_key = $tmp/certs/policy.key
EOF
  } >"$data.conf"
  taskset -c "$RECEIVER_CPU" "$beacon_bin" --config "$data.conf" >>"$log" 2>&1 &
  central_pid=$!
  pids+=("$central_pid")
}

nginx_pid=""
launch_nginx() {  # DIR PORT [fresh]
  local n=$1 port=$2
  [[ ${3:-} == fresh ]] && rm -rf "$n"
  # dav_methods PUT reads the whole body into client_body_temp_path, then
  # renames it to root/<path> (both on tmpfs), answers 201; no fsync.
  write_nginx_conf "$n" "$port" 1024 "  keepalive_timeout 5s;       # the beacon's keep_alive_timeout default
  keepalive_requests 100000;"
  taskset -c "$RECEIVER_CPU" nginx -p "$n" -c "$n/nginx.conf" 2>>"$n/logs/stderr.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
}

relay_pid=""
start_relay() {  # DATA PORT UPSTREAM_PORT LOG
  local data=$1 port=$2 up=$3 log=$4
  rm -rf "$data"
  mkdir -p "$data"
  { beacon_conf relay "$port" "$data"; cat <<EOF
upstream = https://127.0.0.1:$up
relay_backoff_cap = $BACKOFF_CAP
relay_probe_interval = $PROBE_INTERVAL
EOF
  } >"$data.conf"
  taskset -c "$SENDER_CPU" "$beacon_bin" --config "$data.conf" >>"$log" 2>&1 &
  relay_pid=$!
  pids+=("$relay_pid")
  wait_ping "$port" "$relay_pid" "$log"
}

count_ready() { find "$1/spool/ready" -name '*.upl' | wc -l; }
store_count() {  # DATA KIND
  sqlite3 "file:$1/store.sqlite?mode=ro" "SELECT count(*) FROM uploads WHERE kind = '$2'"
}
store_files_mb() {  # DATA -> "db_mb=N wal_mb=N": the store file and its WAL
  local db wal
  db=$(stat -c %s "$1/store.sqlite" 2>/dev/null || echo 0)
  wal=$(stat -c %s "$1/store.sqlite-wal" 2>/dev/null || echo 0)
  echo "db_mb=$((db >> 20)) wal_mb=$((wal >> 20))"
}
count_201() { awk '$1 == 201 { n++ } END { print n + 0 }' "$1"; }

wait_empty() {  # DATA SECONDS -> 0 when ready/ is empty in time
  local i
  for i in $(seq $(($2 * 10))); do
    (($(count_ready "$1") == 0)) && return 0
    sleep 0.1
  done
  return 1
}

# Waits until the relay's log shows "relay: ...; next try in Ns" with N >=
# BACKOFF_MIN, appearing after line FROM; prints the delay.
wait_long_backoff() {  # LOG FROM
  local i s
  for i in $(seq $((BACKOFF_TIMEOUT * 5))); do
    s=$(tail -n +"$2" "$1" | sed -n 's/.* relay: .*; next try in \([0-9]*\)s$/\1/p' |
      awk -v min="$BACKOFF_MIN" '$1 >= min { print; exit }')
    [[ -n $s ]] && { echo "$s"; return 0; }
    sleep 0.2
  done
  echo "drain.sh: no backoff of ${BACKOFF_MIN}s+ in $1 after ${BACKOFF_TIMEOUT}s" >&2
  exit 1
}

# The busiest other processes between two snapshots (others compete for the cores).
others_top() {  # BEFORE AFTER EXCLUDE_PIDS...
  local before=$1 after=$2
  shift 2
  awk -v ex=" $* " 'NR == FNR { t[$1] = $NF; next } index(ex, " " $1 " ") == 0 { d = $NF - ($1 in t ? t[$1] : 0); if (d > 0) print d, $0 }' "$before" "$after" |
    sort -rn | head -3 | awk '{ printf "%s(%d)=%.1fs ", $3, $2, $1 / 100 }'
}
# Seconds of CPU all processes used (from /proc/stat, both cores), for "other load".
cpu_busy_s() { awk '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8) / 100 }' /proc/stat; }

# A central scenario leaves gigabytes of dirty pages (its store's WAL, see
# docs/benchmarks.md); their writeback would slow the next scenario's fsyncs.
# Before each scenario: sync, and wait (at most 120 s) until the kernel holds
# less than 32 MiB dirty or under writeback. Prints the MiB that were dirty
# or under writeback before the sync.
settle() {
  local i kb first
  dirty_kb() { awk '/^(Dirty|Writeback):/ { s += $2 } END { print s }' /proc/meminfo; }
  first=$(($(dirty_kb) >> 10))
  sync
  for i in $(seq 240); do
    kb=$(dirty_kb)
    ((kb < 32768)) && break
    sleep 0.5
  done
  echo "$first"
}

results=$out/results.txt
: >"$results"
record() { echo "$*" | tee -a "$results"; }

# ---- scenarios ----

# relay_drain UPSTREAM(central|nginx) RUN
relay_drain() {
  local kind=$1 run=$2 name="relay-$1" up_port relay_port rlog up_data from s n fill_ms t0 t1 phase dirty
  local d=$tmp/$name-r$run
  dirty=$(settle)
  mkdir -p "$d"
  up_port=$(free_port)
  relay_port=$(free_port)
  rlog=$out/$name-r$run.relay.log
  local ulog=$out/$name-r$run.upstream.log
  if [[ $kind == central ]]; then
    up_data=$d/central
    launch_central "$up_data" "$up_port" "$ulog" fresh
  else
    up_data=$shm/nginx-$name-r$run
    launch_nginx "$up_data" "$up_port" fresh
    ulog=$up_data/logs/error.log
  fi
  local up_pid=${central_pid:-}
  [[ $kind == nginx ]] && up_pid=$nginx_pid
  wait_ping "$up_port" "$up_pid" "$ulog"
  start_relay "$d/relay" "$relay_port" "$up_port" "$rlog"

  # The path works end to end: one upload through the relay to the upstream.
  s=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" "${load_cert[@]}" -X PUT -H "X-Beacon-Device: $warm_dev" \
    -H "X-Beacon-Content-SHA256: $warm_sha" --data-binary "@$warm_body" \
    "https://127.0.0.1:$relay_port/v1/devices/$warm_dev/uploads/logs/00000000-0000-4000-8000-000000000001")
  [[ $s == 201 ]] || { echo "drain.sh: warm-up upload answered $s" >&2; exit 1; }
  wait_empty "$d/relay" 20 || { echo "drain.sh: warm-up upload not delivered; see $rlog" >&2; exit 1; }

  # Upstream away; fill the relay.
  stop_and_forget "$up_pid"
  echo "   upstream stopped; filling the relay with $UPLOADS uploads ($LOAD_PARALLEL parallel PUTs)"
  t0=$(ms_now)
  taskset -c "$RECEIVER_CPU" curl -sS --parallel --parallel-max "$LOAD_PARALLEL" -K "$(curl_cfg "$relay_port")" \
    >"$out/$name-r$run.fill.txt" 2>"$out/$name-r$run.fill.err" || true
  t1=$(ms_now)
  fill_ms=$((t1 - t0))
  n=$(count_201 "$out/$name-r$run.fill.txt")
  ((n == UPLOADS)) || { echo "drain.sh: the relay answered 201 to $n of $UPLOADS uploads; see $out/$name-r$run.fill.txt" >&2; exit 1; }
  local backlog
  backlog=$(count_ready "$d/relay")
  echo "   $n stored by the relay in $((fill_ms)) ms; ready/ holds $backlog; waiting for a backoff of ${BACKOFF_MIN}s+"
  from=$(($(wc -l <"$rlog") + 1))
  local long
  long=$(wait_long_backoff "$rlog" 1)
  # Return at a random point of the probe cycle (the backoff may have begun
  # during the fill, so this is time since the script saw it).
  local probe_s=${PROBE_INTERVAL%s}
  phase=$(awk -v p="$probe_s" -v r="$RANDOM" 'BEGIN { printf "%.1f", 1 + p * r / 32768 }')
  echo "   relay backs off ${long}s; upstream returns in ${phase}s"
  others_snapshot >"$d/procs-before"  # before the sleep: it takes seconds on a busy machine
  local busy0 busy1
  busy0=$(cpu_busy_s)
  sleep "$phase"

  local mon=$out/$name-r$run.monitor pidfile=$d/upstream.pid margs
  rm -f "$pidfile"
  margs=(port="$up_port" timeout="$DRAIN_TIMEOUT" ready="$d/relay/spool/ready" expect="$UPLOADS"
    relay_pid="$relay_pid" upstream_pidfile="$pidfile" series="$out/$name-r$run.series")
  [[ $kind == central ]] && margs+=(store="$up_data/store.sqlite")
  python3 "$tmp/monitor.py" "${margs[@]}" >"$mon" 2>&1 &
  local mon_pid=$!
  pids+=("$mon_pid")
  sleep 0.2
  if [[ $kind == central ]]; then
    launch_central "$up_data" "$up_port" "$ulog"
    up_pid=$central_pid
  else
    launch_nginx "$up_data" "$up_port"
    up_pid=$nginx_pid
  fi
  echo "$up_pid" >"$pidfile"
  wait "$mon_pid" || { echo "drain.sh: monitor failed:" >&2; cat "$mon" >&2; exit 1; }
  forget_pid "$mon_pid"
  busy1=$(cpu_busy_s)
  others_snapshot >"$d/procs-after"
  local line
  line=$(tail -1 "$mon")
  [[ $line == n0=* ]] || { echo "drain.sh: monitor: $line" >&2; exit 1; }

  # Checks: nothing rejected, everything arrived.
  local rejected stored=na files sizes="db_mb=na wal_mb=na"
  rejected=$(find "$d/relay/spool/rejected" -type f | wc -l)
  if [[ $kind == central ]]; then
    sizes=$(store_files_mb "$up_data")
    stored=$(store_count "$up_data" inventory)
    ((stored == UPLOADS)) || { echo "drain.sh: the central stored $stored of $UPLOADS" >&2; exit 1; }
    rejected=$((rejected + $(find "$up_data/spool/rejected" -type f | wc -l)))
  else
    files=$(find "$up_data/uploads" -path '*/uploads/inventory/*' -type f | wc -l)
    ((files == UPLOADS)) || { echo "drain.sh: nginx wrote $files of $UPLOADS" >&2; exit 1; }
  fi
  ((rejected == 0)) || { echo "drain.sh: $rejected files in rejected/" >&2; exit 1; }
  local woke
  woke=$(tail -n +"$from" "$rlog" | grep -c 'the peer answers again' || true)
  local others
  others=$(others_top "$d/procs-before" "$d/procs-after" "$relay_pid" "$up_pid" $(cat "/proc/$up_pid/task/$up_pid/children" 2>/dev/null))
  stop_and_forget "$relay_pid"
  stop_and_forget "$up_pid"
  central_pid=""
  record "run=$run scenario=$name uploads=$UPLOADS fill_ms=$fill_ms backlog=$backlog dirty_mb=$dirty long_backoff_s=$long returned_after_s=$phase $line stored=$stored $sizes probe_wakeups=$woke all_cpu_s=$(awk -v a="$busy0" -v b="$busy1" 'BEGIN { printf "%.1f", b - a }') others=${others// /,}"
  rm -rf "$d" "$shm/nginx-$name-r$run"
}

# curl_seq UPSTREAM(central|nginx) RUN: one curl, one connection, one PUT after another.
curl_seq() {
  local kind=$1 run=$2 name="curl-$1" port d ulog pid t0 t1 n conns store_s=na stored=na dirty
  d=$tmp/$name-r$run
  dirty=$(settle)
  mkdir -p "$d"
  port=$(free_port)
  ulog=$out/$name-r$run.upstream.log
  if [[ $kind == central ]]; then
    launch_central "$d/central" "$port" "$ulog" fresh
    pid=$central_pid
  else
    launch_nginx "$shm/nginx-$name-r$run" "$port" fresh
    pid=$nginx_pid
    ulog=$shm/nginx-$name-r$run/logs/error.log
  fi
  wait_ping "$port" "$pid" "$ulog"
  local cfg u0 u1 busy0 busy1
  cfg=$(curl_cfg "$port")
  others_snapshot >"$d/procs-before"
  u0=$(proc_ticks "$pid")
  busy0=$(cpu_busy_s)
  t0=$(ms_now)
  taskset -c "$SENDER_CPU" /usr/bin/time -f 'curl_cpu_s=%U+%S' curl -sS -K "$cfg" \
    >"$out/$name-r$run.curl.txt" 2>"$out/$name-r$run.curl.err" || true
  t1=$(ms_now)
  n=$(count_201 "$out/$name-r$run.curl.txt")
  conns=$(awk '{ c += $2 } END { print c + 0 }' "$out/$name-r$run.curl.txt")
  ((n == UPLOADS)) || { echo "drain.sh: $name: $n answers 201 of $UPLOADS" >&2; cat "$out/$name-r$run.curl.err" >&2; exit 1; }
  if [[ $kind == central && $CURL_CENTRAL_STORE == 1 ]]; then
    # The importer's finish, timed from curl's start.
    local i
    for i in $(seq $((DRAIN_TIMEOUT * 10))); do
      stored=$(store_count "$d/central" inventory)
      ((stored >= UPLOADS)) && break
      sleep 0.1
    done
    store_s=$(awk -v a="$t0" -v b="$(ms_now)" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
  elif [[ $kind == nginx ]]; then
    local files
    files=$(find "$shm/nginx-$name-r$run/uploads" -type f | wc -l)
    ((files == UPLOADS)) || { echo "drain.sh: nginx wrote $files of $UPLOADS" >&2; exit 1; }
  fi
  local sizes="db_mb=na wal_mb=na"
  [[ $kind == central ]] && sizes=$(store_files_mb "$d/central")
  u1=$(proc_ticks "$pid")
  busy1=$(cpu_busy_s)
  others_snapshot >"$d/procs-after"
  local ccpu others
  ccpu=$(sed -n 's/^curl_cpu_s=//p' "$out/$name-r$run.curl.err" | awk -F+ '{ printf "%.2f", $1 + $2 }')
  others=$(others_top "$d/procs-before" "$d/procs-after" "$pid" $(cat "/proc/$pid/task/$pid/children" 2>/dev/null))
  stop_and_forget "$pid"
  central_pid=""
  record "run=$run scenario=$name uploads=$UPLOADS dirty_mb=$dirty wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }') connections=$conns curl_cpu_s=$ccpu upstream_cpu_s=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", (b - a) / 100 }') store_s=$store_s stored=$stored $sizes all_cpu_s=$(awk -v a="$busy0" -v b="$busy1" 'BEGIN { printf "%.1f", b - a }') others=${others// /,}"
  rm -rf "$d" "$shm/nginx-$name-r$run"
}

read -r -a order <<<"$SCENARIOS"
for run in $(seq "$RUNS"); do
  list=("${order[@]}")
  if ((run % 2 == 0)); then
    list=()
    for ((i = ${#order[@]} - 1; i >= 0; i--)); do list+=("${order[i]}"); done
  fi
  for sc in "${list[@]}"; do
    echo "== run $run: $sc ($(cut -d' ' -f1-3 /proc/loadavg))"
    case $sc in
      relay-central) relay_drain central "$run" ;;
      relay-nginx) relay_drain nginx "$run" ;;
      curl-nginx) curl_seq nginx "$run" ;;
      curl-central) curl_seq central "$run" ;;
      *) echo "drain.sh: unknown scenario $sc" >&2; exit 2 ;;
    esac
  done
done

# ---- summary ----
cat >"$tmp/summary.py" <<'PY'
import statistics, sys

rows = [dict(kv.split("=", 1) for kv in l.split() if "=" in kv) for l in open(sys.argv[1]) if l.strip()]
series_dir = sys.argv[2]

def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None

def spread(vals, fmt="%.0f"):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    m = statistics.median(vals)
    return (fmt % m) + " (" + (fmt % min(vals)) + "-" + (fmt % max(vals)) + ")"

def by(name):
    return [r for r in rows if r["scenario"] == name]

def drain_rate(r):  # first removal to empty
    f, e = num(r.get("first_s")), num(r.get("empty_s"))
    return int(r["n0"]) / (e - f) if f is not None and e is not None and e > f else None

def one_second_rates(r):
    pts = []
    for l in open("%s/%s-r%s.series" % (series_dir, r["scenario"], r["run"])):
        t, n = l.split()[:2]
        pts.append((float(t), int(n)))
    f, e = num(r["first_s"]), num(r["empty_s"])
    out, t = [], f
    while t + 1 <= e:
        a = min(pts, key=lambda p: abs(p[0] - t))
        b = min(pts, key=lambda p: abs(p[0] - t - 1))
        out.append((a[1] - b[1]) / (b[0] - a[0]) if b[0] > a[0] else 0)
        t += 1
    return out

# The reference of the same round (run number): rounds differ more than
# scenarios within a round on a shared machine.
ref = {r["run"]: int(r["uploads"]) / num(r["wall_s"]) for r in by("curl-nginx")}
print("| scenario | runs | uploads/s median (min-max) | ratio to curl -> nginx of the same round | first delivery after the upstream listens, s | upstream's store has all, s after it listens | sender CPU per upload, us | receiver CPU per upload, us | slowest / fastest 1-s rate |")
print("|---|---:|---:|---:|---|---|---:|---:|---|")
for name in ["relay-central", "relay-nginx", "curl-central", "curl-nginx"]:
    rs = by(name)
    if not rs:
        continue
    if name.startswith("relay"):
        rates = [drain_rate(r) for r in rs]
        first = spread([num(r["first_s"]) for r in rs], "%.2f")
        store = spread([num(r["store_s"]) for r in rs], "%.1f") if name == "relay-central" else "-"
        scpu = [num(r["relay_cpu_s"]) * 1e6 / int(r["n0"]) for r in rs if num(r["relay_cpu_s"]) is not None and int(r["n0"]) > 0]
        key = "upstream_cpu_to_store_s" if name == "relay-central" else "upstream_cpu_to_empty_s"
        rcpu = [num(r[key]) * 1e6 / int(r["uploads"]) for r in rs if num(r.get(key)) is not None]
        secs = [one_second_rates(r) for r in rs]
        lo = spread([min(s) for s in secs if s]), spread([max(s) for s in secs if s])
        slow = "%s / %s" % lo
    else:
        rates = [int(r["uploads"]) / num(r["wall_s"]) for r in rs]
        first = "-"
        store = spread([num(r["store_s"]) for r in rs], "%.1f") if name == "curl-central" else "-"
        scpu = [num(r["curl_cpu_s"]) * 1e6 / int(r["uploads"]) for r in rs]
        rcpu = [num(r["upstream_cpu_s"]) * 1e6 / int(r["uploads"]) for r in rs]
        slow = "-"
    ratio = spread([x / ref[r["run"]] for x, r in zip(rates, rs) if x and r["run"] in ref], "%.2f")
    print("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (name, len(rs), spread(rates), ratio, first, store,
          spread(scpu), spread(rcpu), slow))
print()
print("Per run (uploads/s):")
for r in rows:
    if r["scenario"].startswith("relay"):
        print("- run %s %s: drain %.0f/s (first removal to empty), first delivery %ss after the upstream listened"
              " (it returned %ss after a %ss backoff was seen), ready/ empty at %ss, store complete at %ss (store.sqlite %s MiB, its WAL %s MiB);"
              " relay CPU %ss; probe wake-ups %s; all processes used %s CPU-s; busiest others: %s"
              % (r["run"], r["scenario"], drain_rate(r) or 0, r["first_s"], r["returned_after_s"], r["long_backoff_s"],
                 r["empty_s"], r["store_s"], r["db_mb"], r["wal_mb"], r["relay_cpu_s"], r["probe_wakeups"],
                 r["all_cpu_s"], r.get("others", "")))
    else:
        print("- run %s %s: %.0f/s over %s connection(s) in %ss; store complete %ss after curl started;"
              " curl CPU %ss, receiver CPU %ss; all processes used %s CPU-s; busiest others: %s"
              % (r["run"], r["scenario"], int(r["uploads"]) / num(r["wall_s"]), r["connections"], r["wall_s"],
                 r["store_s"], r["curl_cpu_s"], r["upstream_cpu_s"], r["all_cpu_s"], r.get("others", "")))
PY

{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
  echo "Versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(curl --version | head -1 | cut -d' ' -f1-2), $(openssl version | cut -d' ' -f1-2), beacon $build_type build $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "Run $stamp: UPLOADS=$UPLOADS RUNS=$RUNS bodies: gzip inventories of $packages packages, mean $body_mean bytes;"
  echo "relay_backoff_cap=$BACKOFF_CAP relay_probe_interval=$PROBE_INTERVAL, upstream back after a ${BACKOFF_MIN}s+ backoff;"
  echo "senders (relay, curl) on CPU $SENDER_CPU, receivers (central, nginx) on CPU $RECEIVER_CPU"
  echo
  python3 "$tmp/summary.py" "$results" "$out"
} | tee "$out/summary.md"
echo
echo "raw outputs: $out"
