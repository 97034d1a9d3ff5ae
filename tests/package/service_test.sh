#!/bin/bash
# CTest `service_test` (label install): the packages' units under a real
# systemd. A fresh Debian 12 root (lib.sh) boots with systemd-nspawn
# --boot --private-network (its own loopback and nothing else), and the test
# drives it from outside with nsenter, as an administrator would:
#   1. install the older build (chroot, apt-get); both units are enabled;
#   2. make the central's estate (CA, key, policy) and boot: the beacon
#      starts at boot and is active only once ready (Type=notify, its
#      status text), the client's start is skipped (no CA yet), not failed;
#   3. `beacon-client enroll --server` as root enables and starts the client,
#      as the user beacon-client; the device turns active with the
#      inventory the hardened unit collected (CPU, memory = /proc's);
#   4. `systemctl reload`: a good configuration is applied, a bad one is
#      refused while the service keeps running, with a warning in the
#      journal (priorities from the `<N>` prefixes);
#   5. the watchdog: pings arrive; a hung beacon (SIGSTOP) is killed and
#      restarted by systemd;
#   6. an upgrade (dpkg -i, newer build) restarts both running services;
#   7. removal stops the client; the beacon stops on SIGTERM within its
#      TimeoutStopSec; the container powers off.
# The container is powered off (killed if it hangs) and the root deleted,
# whatever happens.
#   service_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  echo "service_test: skipped: needs root, debootstrap and systemd-nspawn (systemd-container)"
  exit 77
fi
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$build/service-test
root=$work/root
. "$src/tests/package/lib.sh"

nspawn_pid=""
leader=""
cleanup() {
  local rc=$?
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    [ -z "$leader" ] || in_ct journalctl --no-pager -o short-precise -u beacon -u beacon-client >"$work/journal.log" 2>&1 || true
    [ -z "$leader" ] || in_ct systemctl --no-block poweroff >/dev/null 2>&1 || true
    timeout 30 tail --pid="$nspawn_pid" -f /dev/null || kill -KILL "$nspawn_pid" 2>/dev/null || true
    wait "$nspawn_pid" 2>/dev/null || true
  fi
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
  if ! mountpoint -q "$root/proc"; then rm -rf --one-file-system "$root"; fi
  [ $rc -eq 0 ] || echo "service_test: FAILED (logs in $work)" >&2
  exit $rc
}
trap cleanup EXIT

# A command inside the booted container (all its namespaces, a clean
# environment), as root or as USER.
in_ct() { nsenter --target "$leader" --all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
as_ct() { local user=$1; shift; in_ct setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }
prop() { in_ct systemctl show -p "$2" --value "$1"; }
expect_prop() { local got; got=$(prop "$1" "$2"); [ "$got" = "$3" ] || fail "$1: $2 is '$got', expected '$3'"; }
changed() { [ "$(prop "$1" "$2")" != "$3" ]; }
running() { [ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/running ]; }
# (Whole, then searched: grep -q stopping early would fail the pipeline.)
journal_has() { in_ct journalctl -q -u "$1" -o json --no-pager >"$work/journal.json" && grep -q "$2" "$work/journal.json"; }

mkdir -p "$work"
rm -f "$work"/*.log

step "packages: $old_version, then $new_version"
find_debs

step "a Debian 12 root with systemd from $mirror (cached in $cache); install $old_version"
make_root
mount -t proc proc "$root/proc"
apt_install "/root/pkgs/old/beacon_${old_version}_$arch.deb" "/root/pkgs/old/beacon-client_${old_version}_$arch.deb"

step "the central's estate: CA, certificate, key (the unit's start condition), policy"
make_estate "https://127.0.0.1:8443"
sed -i -e "s/^checkin_flush_interval = .*/checkin_flush_interval = 1s/" "$root/etc/beacon/beacon.conf"
# A new device checks its policy at once, then waits for its schedule's
# first inventory (the example's is nightly): the test's runs every minute.
cat >"$root/var/lib/beacon/policy/default/schedule.xml" <<'EOF'
<schedule version="1">
  <event name="policy-check" interval="1m"/>
  <event name="inventory" interval="1m"/>
</schedule>
EOF
as_user beacon beaconctl policy publish -m "every minute" >/dev/null
umount "$root/proc"

step "boot it (systemd-nspawn --boot --private-network)"
echo service-test >"$root/etc/hostname"
systemd-nspawn -D "$root" --boot --private-network --register=no --keep-unit -q \
  --machine=beacon-service-test >"$work/console.log" 2>&1 &
nspawn_pid=$!
find_leader() { leader=$(pgrep -P "$nspawn_pid" -x systemd); }
wait_for "the container's systemd (see $work/console.log)" 60 find_leader
state=$(in_ct timeout 120 systemctl is-system-running --wait || true)
echo "system: $state"
in_ct systemctl --failed --no-legend --plain
[ "$(in_ct systemctl is-enabled beacon.service)" = enabled ] || fail "beacon.service is not enabled"
[ "$(in_ct systemctl is-enabled beacon-client.service)" = enabled ] || fail "beacon-client.service is not enabled"

step "the beacon started at boot and is ready; the client's start was skipped (no CA yet)"
wait_for "beacon.service to run" 60 running beacon
expect_prop beacon Type notify
expect_prop beacon StatusText "central serving on port 8443"
expect_prop beacon NRestarts 0
beacon_pid=$(prop beacon MainPID)
[ "$(in_ct stat -c %U "/proc/$beacon_pid")" = beacon ] || fail "the beacon does not run as the user beacon"
expect_prop beacon-client ActiveState inactive
expect_prop beacon-client ConditionResult no
expect_prop beacon-client Result success

step "beacon-client enroll --server: enables and starts the client"
in_ct beacon-client enroll --server https://127.0.0.1:8443 --ca /etc/beacon/ca.pem \
  --policy-key /etc/beacon/policy.pub --secret "$secret" >"$work/enroll.log" 2>&1 ||
  { cat "$work/enroll.log" >&2; fail "enroll"; }
expect "enroll did not start the service" grep -q "is enabled and started" "$work/enroll.log"
wait_for "beacon-client.service to run" 30 running beacon-client
client_pid=$(prop beacon-client MainPID)
[ "$(in_ct stat -c %U "/proc/$client_pid")" = beacon-client ] || fail "the client does not run as beacon-client"
device=$(cat "$root/var/lib/beacon-client/device-id")
active() { as_ct beacon beaconctl devices --status active --csv | grep -q "^$device,"; }
wait_for "the device to be active in beaconctl devices" 180 active
as_ct beacon beaconctl devices

step "the hardened unit's inventory: CPU and memory as /proc shows them to root"
as_ct beacon beaconctl device show "$device" --json >"$work/device.json"
python3 - "$work/device.json" <<'EOF' || fail "the inventory differs from /proc (see $work/device.json)"
import json, sys
d = json.load(open(sys.argv[1]))
mem = next(int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
cpus = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
print(f"store: cpu {d['cpu_model']!r} x{d['cpu_cores']}, memory {d['memory_bytes']}; /proc: {cpus[:1]} x{len(cpus)}, {mem}")
assert d["memory_bytes"] == mem, "memory"
assert not cpus or (d["cpu_model"] == cpus[0] and d["cpu_cores"] == len(cpus)), "cpu"
EOF

step "reload: applied, refused (the service keeps running), applied again"
in_ct systemctl reload beacon
expect_prop beacon StatusText reloaded
expect_prop beacon MainPID "$beacon_pid"
cp "$root/etc/beacon/beacon.conf" "$work/beacon.conf.good"
sed -i "s/^log_level = .*/log_level = loudest/" "$root/etc/beacon/beacon.conf"
grep -q "^log_level = loudest" "$root/etc/beacon/beacon.conf" || fail "no log_level line in beacon.conf"
in_ct systemctl reload beacon
expect "the bad reload was not refused" changed beacon StatusText reloaded
prop beacon StatusText
running beacon || fail "a refused reload stopped the beacon"
expect_prop beacon MainPID "$beacon_pid"
# The refusal is a warning or worse in the journal (PRIORITY 0-4).
expect "no warning about the refused reload in the journal" journal_has beacon '"PRIORITY":"[0-4]".*loudest\|loudest.*"PRIORITY":"[0-4]"'
expect "no info-level lines in the journal" journal_has beacon '"PRIORITY":"6"'
cp "$work/beacon.conf.good" "$root/etc/beacon/beacon.conf"
in_ct systemctl reload beacon
expect_prop beacon StatusText reloaded
in_ct systemctl reload beacon-client
expect_prop beacon-client StatusText reloaded
expect_prop beacon-client MainPID "$client_pid"

step "the watchdog: pings arrive; a hung beacon is killed and restarted"
expect_prop beacon WatchdogUSec 30s
mkdir -p "$root/etc/systemd/system/beacon.service.d"
printf '[Service]\nWatchdogSec=3s\nTimeoutAbortSec=3s\n' >"$root/etc/systemd/system/beacon.service.d/watchdog.conf"
in_ct systemctl daemon-reload
in_ct systemctl restart beacon
expect_prop beacon WatchdogUSec 3s
ping=$(prop beacon WatchdogTimestampMonotonic)
wait_for "a watchdog ping" 10 changed beacon WatchdogTimestampMonotonic "$ping"
beacon_pid=$(prop beacon MainPID)
in_ct kill -STOP "$beacon_pid"
wait_for "systemd to restart the hung beacon" 60 changed beacon NRestarts 0
wait_for "the restarted beacon to run" 30 running beacon
[ "$(prop beacon MainPID)" != "$beacon_pid" ] || fail "the hung beacon was not replaced"
expect "the journal does not say why it was killed" journal_has beacon "Watchdog timeout"
rm -r "$root/etc/systemd/system/beacon.service.d"
in_ct systemctl daemon-reload
in_ct systemctl restart beacon
wait_for "the beacon to run" 30 running beacon

step "upgrade to $new_version: both running services restart with the new files"
beacon_pid=$(prop beacon MainPID)
client_pid=$(prop beacon-client MainPID)
in_ct env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold \
  "/root/pkgs/new/beacon_${new_version}_$arch.deb" "/root/pkgs/new/beacon-client_${new_version}_$arch.deb" \
  >>"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; fail "dpkg -i $new_version"; }
for p in beacon beacon-client; do
  [ "$(in_ct dpkg-query -W -f='${Version}' $p)" = "$new_version" ] || fail "$p was not upgraded"
done
wait_for "the beacon to run again" 30 running beacon
wait_for "the client to run again" 30 running beacon-client
[ "$(prop beacon MainPID)" != "$beacon_pid" ] || fail "the upgrade did not restart the beacon"
[ "$(prop beacon-client MainPID)" != "$client_pid" ] || fail "the upgrade did not restart the client"
expect "the edit of beacon.conf was lost" grep -q "^checkin_flush_interval = 1s\$" "$root/etc/beacon/beacon.conf"

step "security exposure, as systemd-analyze sees the installed units"
in_ct systemd-analyze security --no-pager beacon.service beacon-client.service | tail -n 3

step "removal stops the client; the beacon stops on SIGTERM; poweroff"
client_pid=$(prop beacon-client MainPID)
in_ct dpkg -r beacon-client >>"$work/apt.log" 2>&1 || fail "dpkg -r beacon-client"
if in_ct test -d "/proc/$client_pid"; then fail "the client still runs after dpkg -r"; fi
in_ct systemctl stop beacon
expect_prop beacon Result success
in_ct systemctl --no-block poweroff
stopped() { ! kill -0 "$nspawn_pid" 2>/dev/null; }
wait_for "the container to power off" 90 stopped
wait "$nspawn_pid" 2>/dev/null || true
nspawn_pid=""

step "done"
