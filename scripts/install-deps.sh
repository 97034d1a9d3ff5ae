#!/bin/sh
# Installs the Debian 12 packages needed to build and test, if any is missing.
set -eu
# libsystemd-dev: sd_notify(3) for the services (common/src/service.cpp);
# systemd: systemd-analyze, which the units' test runs (tests/conf/).
# The Debian packages (scripts/package.sh, tests/package/): dpkg-dev,
# debhelper, fakeroot, lintian and help2man (the manual pages) build and
# check them; debootstrap and sqlite3 are the installation test's (a fresh
# Debian 12 root, its store), systemd-container the service test's
# (systemd-nspawn boots that root).
# The last two lines: the web dashboard's libraries, served by the central
# from /usr/share/javascript (libjs-bootstrap5, libjs-chart.js), and its
# browser test's tools (headless Chromium driven by Selenium).
pkgs="g++ cmake make pkg-config openssl iproute2 ca-certificates
      libcpp-httplib-dev libssl-dev libpugixml-dev libsqlite3-dev catch2
      libcli11-dev nlohmann-json3-dev zlib1g-dev libboost1.81-dev libarchive-dev
      squid rpm pciutils libpq-dev postgresql prometheus-cpp-dev prometheus
      libsystemd-dev systemd
      build-essential dpkg-dev debhelper fakeroot lintian debootstrap sqlite3 systemd-container help2man
      libjs-bootstrap5 libjs-chart.js
      chromium chromium-driver python3-selenium"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
