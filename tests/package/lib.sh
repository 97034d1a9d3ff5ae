# Shared by install_test.sh and service_test.sh (sourced, after they set
# src, build, work and root): the packages to install, a fresh Debian 12 root
# to install them in, and the estate they set up there.
#
# The root is debootstrap --variant=minbase bookworm plus systemd (so that
# service_test can boot it; install_test only chroots into it), cached as a
# tar in BUILD/install-cache with the .debs apt fetched, so a rerun
# downloads nothing.

cache=$build/install-cache
arch=$(dpkg --print-architecture)
upstream=$(sed -n 's/^project(beacon VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
old_version=$upstream~old-1
new_version=$upstream-1
new_dir=$build/packages     # package_test's build (the fixture "debs")
old_dir=$build/packages-old # an older version to upgrade from
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
started=$SECONDS

step() { echo "== [$((SECONDS - started)) s] $*"; }
fail() { echo "$(basename "$0" .sh): $*" >&2; exit 1; }
# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
  local what=$1 limit=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "gave up waiting for $what"
    sleep 0.2
  done
}
expect() { local what=$1; shift; "$@" >/dev/null 2>&1 || fail "$what"; }
in_root() { chroot "$root" "$@"; }
# Runs a command inside the root as `user` (setpriv execs, so $! of a
# background call is the process itself).
as_user() { local user=$1; shift; chroot "$root" setpriv --reuid="$user" --regid="$user" --init-groups "$@"; }
mode_of() { in_root stat -c '%U:%G %a' "$1"; }
expect_mode() { local got; got=$(mode_of "$1"); [ "$got" = "$2" ] || fail "$1 is $got, expected $2"; }

# Checks that package_test's build is there and builds the older version
# (package.sh --version-suffix "~old") into old_dir, again only when the tree
# changed since the last time (the digest of every file package.sh copies).
find_debs() {
  local p stamp
  for p in beacon beacon-client; do
    [ -f "$new_dir/${p}_${new_version}_$arch.deb" ] || fail "no $new_dir/${p}_${new_version}_$arch.deb: run package_test first"
  done
  stamp=$(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 sha256sum 2>/dev/null | sha256sum || true)
  if [ "$(cat "$old_dir/stamp" 2>/dev/null)" != "$stamp" ] ||
     [ ! -f "$old_dir/beacon-client_${old_version}_$arch.deb" ] || [ ! -f "$old_dir/beacon_${old_version}_$arch.deb" ]; then
    rm -rf "$old_dir"
    "$src/scripts/package.sh" --out "$old_dir" --version-suffix "~old" >/dev/null
    echo "$stamp" >"$old_dir/stamp"
  fi
}

# Unpacks a fresh root into $root (debootstrapping the cached tar first if
# there is none) with both builds' packages in /root/pkgs/old and /root/pkgs/new.
make_root() {
  local base=$cache/bookworm-minbase-systemd.tar tmp=$cache/bootstrap
  mkdir -p "$cache"
  if [ ! -f "$base" ]; then
    rm -rf --one-file-system "$tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tmp" "$mirror" \
      >"$cache/debootstrap.log" 2>&1 || fail "debootstrap failed: see $cache/debootstrap.log"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf"
    chroot "$tmp" apt-get update -q >>"$cache/debootstrap.log" 2>&1 || fail "apt-get update in the new root failed"
    tar -C "$tmp" -cf "$base.part" . && mv "$base.part" "$base"
    rm -rf --one-file-system "$tmp"
  fi
  rm -rf --one-file-system "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$base"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root/root/pkgs/old" "$root/root/pkgs/new"
  cp "$old_dir/"*"_${old_version}_$arch.deb" "$root/root/pkgs/old/"
  cp "$new_dir/beacon_${new_version}_$arch.deb" "$new_dir/beacon-client_${new_version}_$arch.deb" "$root/root/pkgs/new/"
}

# apt-get install ARGS... in the root (through chroot; needs its /proc),
# with the cached archives and the mirror.
apt_install() {
  mkdir -p "$cache/archives"
  find "$cache/archives" -name '*.deb' -exec cp -n {} "$root/var/cache/apt/archives/" \;
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
             -o Dpkg::Options::=--force-confold "$@")
  if ! in_root "${apt[@]}" >>"$work/apt.log" 2>&1; then
    # The cached lists may be older than the mirror: refresh once.
    in_root apt-get update -q >>"$work/apt.log" 2>&1 || fail "apt-get update failed: see $work/apt.log"
    in_root "${apt[@]}" >>"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; fail "apt-get install $*"; }
  fi
  find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' -exec cp -n {} "$cache/archives/" \;
}

# The estate, made in the root as the user beacon, as docs/install.md does:
# the CA, the central's certificate for 127.0.0.1 (/etc/beacon/beacon.pem,
# .key), the CA bundle /etc/beacon/ca.pem, the policy signing pair
# (/etc/beacon/policy.key, .pub; the root has no openssl, the host's makes
# it), the example policy published with one beacon, FAILOVER_URL, and a
# one-use enrollment secret in $secret.
make_estate() {
  local failover_url=$1
  as_user beacon beaconctl ca init --name "Install test CA" >/dev/null
  as_user beacon beaconctl beacon issue central --host 127.0.0.1 --out /tmp/pki >/dev/null
  in_root install -o root -g beacon -m 0644 /tmp/pki/central.pem /etc/beacon/beacon.pem
  in_root install -o root -g beacon -m 0640 /tmp/pki/central.key /etc/beacon/beacon.key
  in_root install -o root -g root -m 0644 /tmp/pki/ca.pem /etc/beacon/ca.pem
  openssl genpkey -algorithm ed25519 -out "$work/policy.key" 2>/dev/null
  openssl pkey -in "$work/policy.key" -pubout -out "$work/policy.pub" 2>/dev/null
  cp "$work/policy.key" "$work/policy.pub" "$root/tmp/pki/"
  in_root install -o root -g beacon -m 0640 /tmp/pki/policy.key /etc/beacon/policy.key
  in_root install -o root -g root -m 0644 /tmp/pki/policy.pub /etc/beacon/policy.pub
  secret=$(as_user beacon beaconctl enroll secret create --uses 1 --expires 1h)
  as_user beacon mkdir -p /var/lib/beacon/policy
  as_user beacon cp -r /usr/share/doc/beacon/examples/policy/. /var/lib/beacon/policy/
  printf '<failover version="1">\n  <beacon url="%s" priority="0"/>\n</failover>\n' "$failover_url" \
    | as_user beacon tee /var/lib/beacon/policy/default/failover.xml >/dev/null
  as_user beacon beaconctl policy publish -m "install test" >/dev/null
}
