# Shell helpers shared by the bench/ scripts. Source it after setting:
#   me    the script's name, for messages ("tls.sh")
#   here  the bench/ folder;  root  the repository
# It defines functions only, plus the `pids` array that bench_cleanup stops.
# Everything runs on loopback (127.0.0.0/8); no helper talks to another host.

die() { echo "$me: $*" >&2; exit 1; }

# ---- tools ----

# Installs the Debian packages that are missing (as scripts/install-deps.sh does).
install_packages() {  # PKG...
  local need="" pkg as_root=""
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need="$need $pkg"
  done
  [[ -z $need ]] && return 0
  echo "== installing:$need"
  [[ $(id -u) -eq 0 ]] || as_root=sudo
  $as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $need >/dev/null
}

require_tools() {  # TOOL...: fail clearly, before anything starts
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed"
  done
}

# nginx from Debian (nginx-light has the dav module run.sh and drain.sh need).
install_nginx() {
  command -v nginx >/dev/null || install_packages nginx-light
  require_tools nginx
  nginx -V 2>&1 | grep -q -- --with-http_dav_module ||
    die "this nginx lacks the dav module (install nginx-light, nginx-full or nginx-extras)"
}

# Builds the beacon and beaconctl (-j2: the machine is shared) unless both exist
# and are newer than every source file. Sets beacon_bin and ctl_bin.
build_beacon() {  # BUILD_DIR [BUILD_TYPE]
  local dir=$1 type=${2:-Release}
  beacon_bin=$dir/beacon/beacon
  ctl_bin=$dir/beaconctl/beaconctl
  if [[ -x $beacon_bin && -x $ctl_bin ]] &&
    [[ -z $(find "$root"/{common,policy,inventory,beacon,beaconctl} -newer "$beacon_bin" \
      \( -name '*.cpp' -o -name '*.h' -o -name CMakeLists.txt \) -print -quit) ]]; then
    return 0
  fi
  echo "== building the beacon ($type, -j2) in $dir"
  [[ -f $dir/CMakeCache.txt ]] ||
    cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DBEACON_TESTS=OFF >/dev/null
  cmake --build "$dir" -j2 --target beacon beaconctl >/dev/null
}

# Compiles bench/tlsload.cpp (our TLS load generator) when it changed. Sets tlsload_bin.
build_tlsload() {  # BUILD_DIR
  tlsload_bin=$1/bench-tools/tlsload
  if [[ ! -x $tlsload_bin || $here/tlsload.cpp -nt $tlsload_bin ]]; then
    mkdir -p "$1/bench-tools"
    g++ -std=c++20 -O2 -Wall -Wextra -o "$tlsload_bin" "$here/tlsload.cpp" -lssl -lcrypto ||
      die "cannot build bench/tlsload.cpp (needs g++ and libssl-dev)"
  fi
}

# Compiles bench/wrk_client_cert.c, the LD_PRELOAD shim through which wrk
# presents a client certificate (Debian's wrk 4.1 has no option for one).
# Sets wrk_cert_so.
build_wrk_cert() {  # BUILD_DIR
  wrk_cert_so=$1/bench-tools/wrk_client_cert.so
  if [[ ! -f $wrk_cert_so || $here/wrk_client_cert.c -nt $wrk_cert_so ]]; then
    mkdir -p "$1/bench-tools"
    gcc -std=c11 -O2 -Wall -Wextra -shared -fPIC -o "$wrk_cert_so" "$here/wrk_client_cert.c" -ldl -lssl ||
      die "cannot build bench/wrk_client_cert.c (needs gcc and libssl-dev)"
  fi
  ldd "$(command -v wrk)" | grep -q 'libssl\.so' ||
    die "this wrk is not linked to libssl dynamically: the client-certificate shim cannot reach it"
}

# ---- processes ----

pids=()       # everything started in the background; bench_cleanup stops it
cleanup_dirs=()

stop_pid() {  # PID: TERM, wait up to STOP_WAIT seconds (default 10), then KILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq $((${STOP_WAIT:-10} * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
forget_pid() {  # PID: no longer stopped on exit
  local p keep=()
  for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
stop_and_forget() { stop_pid "$1"; forget_pid "$1"; }

bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  ((${#cleanup_dirs[@]} == 0)) || rm -rf "${cleanup_dirs[@]}"
}
# EXIT stops what the script started; INT and TERM go through EXIT.
bench_trap() {
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

duration_s() {  # 10s, 1m, 90 -> seconds
  local d=$1
  case $d in
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}

# ---- measuring a process (and its children: nginx's worker) ----

proc_family() {  # PID -> PID and its children
  echo "$1" $(cat "/proc/$1/task/$1/children" 2>/dev/null)
}

# A /proc/PID/status field (KiB) summed over the process and its children.
status_kib() {  # FIELD PID
  local kb=0 p v
  for p in $(proc_family "$2"); do
    v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null)
    kb=$((kb + ${v:-0}))
  done
  echo "$kb"
}
rss_kib() { status_kib VmRSS "$1"; }
hwm_kib() { status_kib VmHWM "$1"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }   # KIB -> MiB, one decimal
peak_rss_mib() { mib "$(hwm_kib "$1")"; }

cpu_ticks() {  # CPU: "busy total" jiffies from /proc/stat
  awk -v c="cpu$1" '$1 == c { idle = $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; print t - idle, t }' /proc/stat
}

# CPU time (jiffies, utime + stime) used so far by a process and its children.
proc_ticks() {  # PID
  local t=0 p v
  for p in $(proc_family "$1"); do
    v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
    t=$((t + ${v:-0}))
  done
  echo "$t"
}

# Writes "SECONDS RSS_KIB" for PID (and children) to FILE every half second
# until PID exits; run it in the background. Past KILL_MIB it kills PID and its
# children with SIGKILL and writes "killed SECONDS RSS_KIB": on a shared
# machine a server whose memory runs away must not take the machine with it.
sample_rss() {  # PID FILE KILL_MIB
  local pid=$1 file=$2 limit=$(($3 * 1024)) t0 kb family
  t0=$(date +%s%N)
  while kill -0 "$pid" 2>/dev/null; do
    family=$(proc_family "$pid")
    kb=$(rss_kib "$pid")
    echo "$(( ($(date +%s%N) - t0) / 1000000 )) $kb" >>"$file"
    if ((kb > limit)); then
      kill -KILL $family 2>/dev/null || true
      echo "killed $(( ($(date +%s%N) - t0) / 1000000 )) $kb" >>"$file"
      return 0
    fi
    sleep 0.5
  done
}

# ---- servers ----

# Waits until GET /v1/ping answers on PORT; fails if PID exits first. The
# load generators' certificate is presented: nginx, set up like the beacon,
# may insist on one (ssl_verify_client on).
wait_ping() {  # PORT PID LOG
  local i
  for i in $(seq 200); do
    curl -s -o /dev/null --max-time 2 --cacert "$ca" "${load_cert[@]}" "https://127.0.0.1:$1/v1/ping" && return 0
    kill -0 "$2" 2>/dev/null || { tail -5 "$3" >&2; die "the server exited; see $3"; }
    sleep 0.05
  done
  die "nothing answers on port $1; see $3"
}

# The policy signing key (scripts/make-certs.sh; the other certificates it
# makes are not used) and the sample policy folder.
make_certs_and_policy() {  # DIR
  "$root/scripts/make-certs.sh" "$1/certs" 127.0.0.1 localhost >/dev/null
  mkdir -p "$1/policy"
  cp -r "$root"/conf/policy/. "$1/policy/"
}

# Bench device ids, as device_id(N) in bench/common.lua.
bench_device() { printf 'b0000000-0000-4000-8000-%012x' "$1"; }

# The estate's identities, made as scripts/quickstart.sh and docs/identity.md
# make them, once per script run (each fresh central gets this CA: see
# start_central):
#   - the estate CA: `beaconctl ca init` in the template data directory
#     $tmp/estate (its ca/ folder);
#   - a beacon certificate for each NAME (`beaconctl beacon issue NAME --host
#     127.0.0.1 --host localhost`): the servers' own ("central", "relay")
#     and "load", the one a load generator presents when it acts for many
#     devices from one process, as a relay does;
#   - DEVICES device certificates (`beaconctl device issue`) for bench
#     devices 1..DEVICES (bench_device).
# Everything goes to $tmp/pki: NAME.pem/.key, <device id>.pem/.key and
# ca.pem, the trust bundle (relays' ca_file; what clients verify with).
# Sets pki, ca, estate and load_cert (curl arguments presenting "load"'s
# certificate, if it was made). Needs ctl_bin (build_beacon).
make_identities() {  # DEVICES NAME...
  local devices=$1 name i
  shift
  estate=$tmp/estate
  pki=$tmp/pki
  rm -rf "$estate" "$pki"
  mkdir -p "$estate"
  "$ctl_bin" --data-dir "$estate" ca init --name "Bench Estate CA" >/dev/null
  for name in "$@"; do
    "$ctl_bin" --data-dir "$estate" beacon issue "$name" --host 127.0.0.1 --host localhost --out "$pki" >/dev/null
  done
  for ((i = 1; i <= devices; i++)); do
    "$ctl_bin" --data-dir "$estate" device issue "$(bench_device "$i")" --out "$pki" >/dev/null
  done
  ca=$pki/ca.pem
  load_cert=()
  if [[ -f $pki/load.pem ]]; then load_cert=(--cert "$pki/load.pem" --key "$pki/load.key"); fi
}
# The certificate and key files of bench device N (make_identities).
device_pem() { echo "$pki/$(bench_device "$1").pem"; }
device_key() { echo "$pki/$(bench_device "$1").key"; }

# The lines every beacon here has: name, loopback port, its beacon
# certificate (make_identities NAME), the trust bundle, data.
beacon_conf() {  # NAME PORT DATA
  cat <<EOF
name = $1
listen_host = 127.0.0.1
listen_port = $2
tls_cert = $pki/$1.pem
tls_key = $pki/$1.key
ca_file = $ca
data_dir = $3
admin_listen_port = 0
EOF
}

# A fresh central named "central" (store = sqlite, the estate CA of
# make_identities, the sample policy published as revision 1) on CPU, with
# EXTRA config lines appended (one per line); waits until it answers.
# Sets central_pid; the config is kept as DATA.conf.
start_central() {  # DATA PORT LOG CPU [EXTRA]
  local data=$1 port=$2 log=$3 cpu=$4 extra=${5:-}
  rm -rf "$data"
  mkdir -p "$data"
  # The CA that issued the certificates. The store starts empty: the
  # certificates are not recorded in it (so `beaconctl device revoke` would
  # not find them; nothing here revokes).
  cp -a "$estate/ca" "$data/ca"
  "$ctl_bin" --data-dir "$data" --policy-dir "$tmp/policy" policy publish -m bench >/dev/null
  { beacon_conf central "$port" "$data"
    echo "store = sqlite"
    echo "policy_signing_key = $tmp/certs/policy.key"
    echo "io_threads = 1"  # the server has one core
    [[ -z $extra ]] || printf '%s\n' "$extra"
  } >"$data.conf"
  taskset -c "$cpu" "$beacon_bin" --config "$data.conf" >>"$log" 2>&1 &
  central_pid=$!
  pids+=("$central_pid")
  wait_ping "$port" "$central_pid" "$log"
}

# nginx with one worker: TLS 1.3 with the central's certificate, GET /v1/ping
# answered 200, PUT of any upload path stored by dav_methods PUT (temp file,
# rename, no fsync). nginx allocates its WORKER_CONNECTIONS connection slots
# at start-up (about 0.5 KiB each), so each script asks for what it needs.
# EXTRA_HTTP lines go into the http block (keepalive_timeout, limits);
# EXTRA_SERVER lines into the server block. Writes DIR/nginx.conf.
# nginx_verify (a variable: "", "optional" or "on") makes it ask for client
# certificates from the estate CA as the beacon does ("optional": ask, serve
# without; "on": answer 400 without one); "" asks for none.
write_nginx_conf() {  # DIR PORT WORKER_CONNECTIONS [EXTRA_HTTP] [EXTRA_SERVER]
  local n=$1 port=$2
  mkdir -p "$n/logs" "$n/body" "$n/uploads"
  cat >"$n/nginx.conf" <<EOF
# Generated by bench/$me. One worker on one core, like the beacon.
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
daemon off;
user root;  # the worker writes uploads into a root-owned folder
pid $n/nginx.pid;
error_log $n/logs/error.log warn;
events { worker_connections $3; }
http {
  access_log off;
  client_body_temp_path $n/body;
  proxy_temp_path $n/body;
  fastcgi_temp_path $n/body;
  uwsgi_temp_path $n/body;
  scgi_temp_path $n/body;
${4:-}
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $pki/central.pem;
    ssl_certificate_key $pki/central.key;
    ssl_protocols TLSv1.3;
$(nginx_verify_lines "    ")
    location = /v1/ping { return 200 "ok\n"; }
    location ~ "^/v1/devices/[0-9a-f-]{36}/uploads/[a-z]+/[0-9a-f-]{36}\$" {
      root $n/uploads;
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 64m;
      client_body_buffer_size 128k;
    }
${5:-}
  }
}
EOF
}

# nginx's lines for client certificates (see write_nginx_conf), indented by PREFIX.
# Like the beacon: the estate CA's certificates (the bundle's CRLs are not
# checked by either at the handshake), a leaf and at most one intermediate.
nginx_verify_lines() {  # PREFIX
  [[ -z ${nginx_verify:-} ]] && return 0
  printf '%sssl_verify_client %s;\n%sssl_client_certificate %s;\n%sssl_verify_depth 2;\n' \
    "$1" "$nginx_verify" "$1" "$ca" "$1"
}

# Starts nginx from DIR/nginx.conf on CPU; waits until it answers. Sets nginx_pid.
start_nginx_dir() {  # DIR PORT CPU
  taskset -c "$3" nginx -p "$1" -c "$1/nginx.conf" 2>>"$1/logs/stderr.log" &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_ping "$2" "$nginx_pid" "$1/logs/stderr.log"
}

# The machine line of a report.
machine_line() {
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
}

# ---- a shared machine ----

# Waits (at most MAX seconds) until neither CPU A nor CPU B was more than 10%
# busy for a second. Prints nothing when it went quiet, else the busy percent
# seen last, for the caller to note: other work on the machine skews results.
wait_quiet() {  # MAX CPU_A CPU_B
  local waited=0 a0 a1 b0 b1 busy
  while :; do
    read -r -a a0 <<<"$(cpu_ticks "$2")"
    read -r -a a1 <<<"$(cpu_ticks "$3")"
    sleep 1
    read -r -a b0 <<<"$(cpu_ticks "$2")"
    read -r -a b1 <<<"$(cpu_ticks "$3")"
    busy=$(awk -v a="$((b0[0] - a0[0]))" -v A="$((b0[1] - a0[1]))" -v b="$((b1[0] - a1[0]))" -v B="$((b1[1] - a1[1]))" \
      'BEGIN { x = A > 0 ? 100 * a / A : 0; y = B > 0 ? 100 * b / B : 0; printf "%.0f", (x > y ? x : y) }')
    ((busy <= 10)) && return 0
    waited=$((waited + 1))
    ((waited >= $1)) && { echo "$busy"; return 0; }
  done
}

# "PID COMM TICKS" for every process, to name what else ran during a measurement.
others_snapshot() {
  local f
  for f in /proc/[0-9]*/stat; do
    awk '{ sub(/^[0-9]+ \(/, ""); n = split($0, a, ") "); split(a[n], b, " "); print substr($0, 1, length($0) - length(a[n]) - 2), b[12] + b[13] }' "$f" 2>/dev/null |
      sed "s|^|${f//[^0-9]/} |" || true
  done
}
# CPU used by other processes between two snapshots, except EXCLUDE_PIDS:
# "SECONDS comm(pid)=s comm(pid)=s comm(pid)=s" (the total, then the three busiest).
others_cpu() {  # BEFORE AFTER EXCLUDE_PIDS...
  local before=$1 after=$2 hz
  shift 2
  hz=$(getconf CLK_TCK)
  awk -v ex=" $* " 'NR == FNR { t[$1] = $NF; next } index(ex, " " $1 " ") == 0 { d = $NF - ($1 in t ? t[$1] : 0); if (d > 0) print d, $0 }' "$before" "$after" |
    sort -rn | awk -v hz="$hz" '{ s += $1; if (NR <= 3) top = top sprintf(" %s(%d)=%.1fs", $3, $2, $1 / hz) } END { printf "%.1f%s\n", s / hz, top }'
}
