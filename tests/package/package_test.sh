#!/bin/bash
# CTest `package_test` (label package): builds both Debian packages with
# scripts/package.sh into BUILD/packages and runs lintian on them. Fails on
# any lintian error or warning; the overrides in debian/*.lintian-overrides
# say why each is there. The install test (install_test.sh) uses these .debs.
#   package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
out=$2/packages
mapfile -t debs < <("$src/scripts/package.sh" --out "$out")
[ "${#debs[@]}" -eq 2 ] || { echo "expected two .deb files, got: ${debs[*]}" >&2; exit 1; }
for deb in "${debs[@]}"; do
  echo "== $deb"
  dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Depends\|Recommends\):/  \1:/p'
  dpkg-deb --contents "$deb" | awk '{print "  " $1, $2, $6}'
done
echo "== lintian"
# (--show-overrides would make overridden warnings count for --fail-on.)
lintian --fail-on error,warning --display-info "${debs[@]}"
echo "lintian: no error or warning"
