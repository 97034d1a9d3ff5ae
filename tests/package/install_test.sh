#!/bin/bash
# CTest `install_test` (label install): the packages in a fresh Debian 12
# root (debootstrap --variant=minbase bookworm), as an administrator would
# use them. systemd is not PID 1 there, so the executables are started
# directly, as the service users, with the units' command lines:
#   1. install the older build (package.sh --version-suffix "~old") and its
#      dependencies with apt-get from the mirror; check files, conffiles,
#      users, folders and their modes, `beacon --version`;
#   2. the quickstart's cycle with the installed executables and layout: a
#      central (/etc/beacon/beacon.conf), a relay (/etc/beacon/relay.conf,
#      data in /var/lib/beacon-relay) and a client set up with
#      `beacon-client enroll --server --ca --policy-key --secret`; the device
#      shows as active in `beaconctl devices`;
#   3. an upgrade with uploads waiting: one in the relay's spool (central
#      down), one in the client's outbox (relay down); install the newer
#      build (package_test's, BUILD/packages), keep the edited conffiles,
#      start again: both uploads are in the store exactly once;
#   4. `dpkg -r` keeps data, users and configuration; `dpkg -P` removes them.
# service_test.sh runs the same packages under systemd. The root and the
# estate come from lib.sh. Everything it starts is stopped, and /proc
# unmounted and the root deleted, whatever happens.
#   install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null; then
  echo "install_test: skipped: needs root and debootstrap (chroot, mount, dpkg in the new root)"
  exit 77
fi
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$build/install-test
root=$work/root
. "$src/tests/package/lib.sh"

pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
  if ! mountpoint -q "$root/proc"; then rm -rf --one-file-system "$root"; fi
  [ $rc -eq 0 ] || echo "install_test: FAILED (logs in $work)" >&2
  exit $rc
}
trap cleanup EXIT

# Starts a beacon or client inside the root as `user`, its output in
# work/NAME.log; sets started_pid.
start() {
  local name=$1 user=$2; shift 2
  chroot "$root" setpriv --reuid="$user" --regid="$user" --init-groups "$@" >"$work/$name.log" 2>&1 &
  started_pid=$!
  pids+=("$started_pid")
}
start_beacon() {
  start "$1" beacon /usr/bin/beacon --config "$2"
  eval "pid_$1=$started_pid"
  wait_for "$1 to listen (see $work/$1.log)" 30 grep -q "listening on" "$work/$1.log"
}
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" 2>/dev/null || true
}

mkdir -p "$work"
rm -f "$work"/*.log

step "packages: the newer build from package_test ($new_version), an older one to upgrade from ($old_version)"
find_debs

step "a Debian 12 root from $mirror (cached in $cache)"
if mountpoint -q "$root/proc"; then umount "$root/proc"; fi
make_root
mount -t proc proc "$root/proc"

step "install $old_version with its dependencies (apt-get install ./*.deb)"
apt_install "/root/pkgs/old/beacon_${old_version}_$arch.deb" "/root/pkgs/old/beacon-client_${old_version}_$arch.deb"
for p in beacon beacon-client; do
  [ "$(in_root dpkg-query -W -f='${Version}' $p)" = "$old_version" ] || fail "$p is not $old_version"
done

step "files, conffiles, users, folders and modes"
for f in /usr/bin/beacon /usr/bin/beaconctl /usr/bin/beacon-client /etc/beacon/beacon.conf \
         /etc/beacon-client/client.conf /lib/systemd/system/beacon.service /lib/systemd/system/beacon-client.service \
         /usr/share/doc/beacon/install.md /usr/share/doc/beacon/copyright /usr/share/doc/beacon/examples/relay.conf \
         /usr/share/doc/beacon/examples/policy/default/policy.xml /usr/share/doc/beacon-client/service.md; do
  [ -e "$root$f" ] || fail "$f is missing"
done
expect "/etc/beacon/beacon.conf is not a conffile" grep -q /etc/beacon/beacon.conf <(in_root dpkg-query -W -f='${Conffiles}' beacon)
expect "/etc/beacon-client/client.conf is not a conffile" grep -q /etc/beacon-client/client.conf \
  <(in_root dpkg-query -W -f='${Conffiles}' beacon-client)
for u in beacon beacon-client; do
  shell=$(in_root getent passwd "$u" | cut -d: -f7) || fail "no user $u"
  [ "$shell" = /usr/sbin/nologin ] || fail "$u has the shell $shell"
  uid=$(in_root id -u "$u")
  [ "$uid" -lt 1000 ] || fail "$u is not a system user (uid $uid)"
done
# Enabled at installation (deb-systemd-helper works without a running
# systemd); service_test.sh shows them start under it.
for u in beacon beacon-client; do
  [ -L "$root/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
done
expect_mode /var/lib/beacon "beacon:beacon 750"
expect_mode /var/lib/beacon-client "beacon-client:beacon-client 700"
expect_mode /etc/beacon "root:beacon 750"
expect_mode /etc/beacon-client "root:beacon-client 750"
expect_mode /etc/beacon-client/client.conf "root:beacon-client 640"
expect_mode /etc/beacon/beacon.conf "root:root 644"
[ "$(in_root beacon --version)" = "beacon $upstream" ] || fail "beacon --version: $(in_root beacon --version)"
[ "$(in_root beacon-client --version)" = "beacon-client $upstream" ] || fail "beacon-client --version"
[ "$(in_root beaconctl --version)" = "beaconctl $upstream" ] || fail "beaconctl --version"

step "the estate, made as the user beacon: CA, beacon certificates, policy key, secret, policy"
read -r central_port relay_port admin_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
make_estate "https://127.0.0.1:$relay_port"
as_user beacon beaconctl beacon issue dmz --host 127.0.0.1 --out /tmp/pki >/dev/null
in_root install -o root -g beacon -m 0644 /tmp/pki/dmz.pem /etc/beacon/relay.pem
in_root install -o root -g beacon -m 0640 /tmp/pki/dmz.key /etc/beacon/relay.key

# The central's conffile, edited (the upgrade must keep the edit); the
# relay's configuration from the example, beside it.
sed -i -e "s/^listen_host = .*/listen_host = 127.0.0.1/" -e "s/^listen_port = .*/listen_port = $central_port/" \
  -e "s/^admin_listen_port = .*/admin_listen_port = $admin_port/" \
  -e "s/^checkin_flush_interval = .*/checkin_flush_interval = 1s/" "$root/etc/beacon/beacon.conf"
sed -e "s/^name = .*/name = dmz/" -e "s|^upstream = .*|upstream = https://127.0.0.1:$central_port|" \
  -e "s/^listen_host = .*/listen_host = 127.0.0.1/" -e "s/^listen_port = .*/listen_port = $relay_port/" \
  -e "s|^tls_cert = .*|tls_cert = /etc/beacon/relay.pem|" -e "s|^tls_key = .*|tls_key = /etc/beacon/relay.key|" \
  -e "s|^data_dir = .*|data_dir = /var/lib/beacon-relay|" -e "s/^# admin_listen_port = .*/admin_listen_port = 0/" \
  -e "s/^relay_backoff_cap = .*/relay_backoff_cap = 2s/" -e "s/^checkin_flush_interval = .*/checkin_flush_interval = 1s/" \
  "$root/usr/share/doc/beacon/examples/relay.conf" >"$root/etc/beacon/relay.conf"
in_root install -d -o beacon -g beacon -m 0750 /var/lib/beacon-relay

step "the cycle: central and relay as the user beacon, the client set up with beacon-client enroll"
start_beacon central /etc/beacon/beacon.conf
start_beacon relay /etc/beacon/relay.conf
in_root beacon-client enroll --server "https://127.0.0.1:$relay_port" --ca /etc/beacon/ca.pem \
  --policy-key /etc/beacon/policy.pub --secret "$secret" >"$work/enroll.log" 2>&1 || { cat "$work/enroll.log" >&2; fail "enroll"; }
expect "enroll did not say how to start the service" grep -q "to start it: systemctl enable --now beacon-client.service" "$work/enroll.log"
expect_mode /etc/beacon-client/client.conf "root:beacon-client 640"
expect_mode /etc/beacon-client/ca.pem "root:root 644"
expect_mode /var/lib/beacon-client/identity "beacon-client:beacon-client 700"
# Short retry delays for the outbox, an edit the upgrade must keep.
sed -i -e "s/^backoff_base = .*/backoff_base = 1s/" -e "s/^backoff_cap = .*/backoff_cap = 2s/" "$root/etc/beacon-client/client.conf"
client=(/usr/bin/beacon-client --config /etc/beacon-client/client.conf)
as_user beacon-client "${client[@]}" run --once >"$work/client-1.log" 2>&1 || { cat "$work/client-1.log" >&2; fail "run --once"; }
device=$(cat "$root/var/lib/beacon-client/device-id")
active() { as_user beacon beaconctl devices --status active --csv | grep -q "^$device,"; }
wait_for "the device to be active in beaconctl devices" 60 active
as_user beacon beaconctl devices

step "uploads waiting: one in the relay's spool (central down), one in the client's outbox (relay down)"
stop "$pid_central"
as_user beacon-client "${client[@]}" inventory --now >"$work/client-2.log" 2>&1 || { cat "$work/client-2.log" >&2; fail "inventory to the relay"; }
stop "$pid_relay"
if as_user beacon-client "${client[@]}" inventory --now >"$work/client-3.log" 2>&1; then fail "inventory delivered with the relay down"; fi
spooled=$(cd "$root/var/lib/beacon-relay/spool/ready" && ls -- "${device}"_*.upl 2>/dev/null || true)
queued=$(cd "$root/var/lib/beacon-client/outbox/ready" && ls -- *.upl 2>/dev/null || true)
[ -n "$spooled" ] || fail "nothing waits in the relay's spool"
[ -n "$queued" ] || fail "nothing waits in the client's outbox"
echo "relay spool: $spooled"
echo "client outbox: $queued"

step "upgrade to $new_version with them waiting"
apt_install "/root/pkgs/new/beacon_${new_version}_$arch.deb" "/root/pkgs/new/beacon-client_${new_version}_$arch.deb"
for p in beacon beacon-client; do
  [ "$(in_root dpkg-query -W -f='${Version}' $p)" = "$new_version" ] || fail "$p was not upgraded"
done
expect "the edit of beacon.conf was lost" grep -q "^listen_port = $central_port\$" "$root/etc/beacon/beacon.conf"
expect "the edit of client.conf was lost" grep -q "^backoff_base = 1s\$" "$root/etc/beacon-client/client.conf"
expect "enroll's server was lost" grep -q "^server = https://127.0.0.1:$relay_port\$" "$root/etc/beacon-client/client.conf"
if find "$root/etc/beacon" "$root/etc/beacon-client" -name '*.dpkg-*' | grep -q .; then fail "dpkg left .dpkg-* files"; fi
expect_mode /etc/beacon-client/client.conf "root:beacon-client 640"
for f in $spooled; do [ -f "$root/var/lib/beacon-relay/spool/ready/$f" ] || fail "the upgrade lost $f"; done
for f in $queued; do [ -f "$root/var/lib/beacon-client/outbox/ready/$f" ] || fail "the upgrade lost $f"; done

step "start again: every waiting upload reaches the store exactly once"
start_beacon central /etc/beacon/beacon.conf
start_beacon relay /etc/beacon/relay.conf
as_user beacon-client "${client[@]}" run --once >"$work/client-4.log" 2>&1 || { cat "$work/client-4.log" >&2; fail "run --once after the upgrade"; }
store=$root/var/lib/beacon/store.sqlite
stored_once() {
  local f id dev
  for f in $spooled $queued; do
    f=${f%.upl}; dev=${f%%_*}; id=${f#*_}
    [ "$(sqlite3 -readonly "$store" "SELECT count(*) FROM uploads WHERE device_id = '$dev' AND upload_id = '$id'")" = 1 ] || return 1
  done
}
wait_for "the waiting uploads in the store" 60 stored_once
spool_empty() { ! ls "$root/var/lib/beacon-relay/spool/ready/" | grep -q "^${device}_"; }
wait_for "the relay's spool to empty" 30 spool_empty
for f in $queued; do [ ! -e "$root/var/lib/beacon-client/outbox/ready/$f" ] || fail "$f is still in the outbox"; done
stop "$pid_relay"
stop "$pid_central"

step "dpkg -r keeps data, configuration and users"
in_root dpkg -r beacon beacon-client >>"$work/apt.log" 2>&1
for f in /usr/bin/beacon /usr/bin/beacon-client /lib/systemd/system/beacon.service; do
  [ ! -e "$root$f" ] || fail "$f is still there after dpkg -r"
done
for f in /var/lib/beacon/store.sqlite /var/lib/beacon/ca /var/lib/beacon-client/device-id /var/lib/beacon-client/identity \
         /etc/beacon/beacon.conf /etc/beacon/beacon.key /etc/beacon-client/client.conf; do
  [ -e "$root$f" ] || fail "dpkg -r removed $f"
done
expect "dpkg -r removed the user beacon" in_root getent passwd beacon
expect "dpkg -r removed the user beacon-client" in_root getent passwd beacon-client

step "dpkg -P removes data, configuration, users"
in_root dpkg -P beacon beacon-client >>"$work/apt.log" 2>&1
for f in /var/lib/beacon /var/lib/beacon-client /etc/beacon /etc/beacon-client; do
  [ ! -e "$root$f" ] || fail "$f is still there after dpkg -P"
done
if in_root getent passwd beacon >/dev/null; then fail "the user beacon is still there"; fi
if in_root getent passwd beacon-client >/dev/null; then fail "the user beacon-client is still there"; fi
if in_root getent group beacon >/dev/null; then fail "the group beacon is still there"; fi
if in_root dpkg-statoverride --list | grep -q beacon; then fail "stat overrides are left"; fi

step "done"
