#!/bin/bash
# Builds the Debian packages `beacon` and `beacon-client` from this tree with
# dpkg-buildpackage (debian/) and prints the paths of the two .deb files.
#   scripts/package.sh [--out DIR] [--version-suffix SUFFIX]
# The version is CMakeLists.txt's project(VERSION), then SUFFIX (for example
# "+test2", to make a newer build of the same tree; the executables still
# report the project's version), then the Debian revision "-1".
# The .deb files go to DIR (default build/packages). The build runs in a copy
# of the tree, build/packages/tree/beacon, whatever DIR is, so the repository
# stays clean (debian/changelog is written there) and one build folder
# serves every run: it keeps its CMake build folder between runs and uses
# ccache when it is installed (CCACHE_DIR is passed on, as debhelper sets its
# own HOME), so a rebuild recompiles only what changed. Two jobs (-j2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/packages
suffix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --version-suffix) suffix=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $suffix =~ ^[A-Za-z0-9.+~]*$ ]]; then
  echo "package.sh: --version-suffix '$suffix' may hold only letters, digits, '.', '+' and '~'" >&2
  exit 2
fi
upstream=$(sed -n 's/^project(beacon VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$upstream" ] || { echo "package.sh: no project(beacon VERSION ...) in CMakeLists.txt" >&2; exit 1; }
version=$upstream$suffix-1

# The copy: every file git tracks or would track (uncommitted edits
# included). A file whose content changed is copied with a new time, so make
# rebuilds what uses it even when its own time is older than the copy's
# objects; an unchanged file keeps its time, so nothing using it is rebuilt.
# Files gone from the tree go from the copy. The CMake build folder (obj-*)
# stays; debhelper's logs and stamps in debian/ do not, or dh would skip the
# steps it thinks done.
mkdir -p "$out"
out=$(cd "$out" && pwd)
trees=$root/build/packages/tree
tree=$trees/beacon
mkdir -p "$tree"
rm -rf "$tree/debian"
git ls-files -z --cached --others --exclude-standard >"$trees/files.z"
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  if ! cmp -s "$f" "$tree/$f"; then
    mkdir -p "$tree/$(dirname "$f")"
    cp --preserve=mode "$f" "$tree/$f"
  fi
done <"$trees/files.z"
tr '\0' '\n' <"$trees/files.z" | sort >"$trees/files.want"
(cd "$tree" && find . -path './obj-*' -prune -o -type f -print | sed 's|^\./||' | sort) >"$trees/files.have"
comm -23 "$trees/files.have" "$trees/files.want" | while IFS= read -r f; do rm -f "$tree/$f"; done

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
maintainer=$(sed -n 's/^Maintainer: //p' debian/control)
cat >"$tree/debian/changelog" <<LOG
beacon ($version) unstable; urgency=medium

  * Built by scripts/package.sh from commit $commit.

 -- $maintainer  $(date -R)
LOG

extra=""
if command -v ccache >/dev/null; then
  extra="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache"
  export CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
  export CCACHE_BASEDIR=$tree CCACHE_NOHASHDIR=1
fi
# No -dbgsym packages: nothing ships them, and they would double the time
# spent after compiling.
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} noautodbgsym"
rm -f "$trees"/*.deb "$trees"/*.changes "$trees"/*.buildinfo
(cd "$tree" && BEACON_CMAKE_EXTRA="$extra" dpkg-buildpackage -b -nc -us -uc -j2 >"$out/build.log" 2>&1) || {
  tail -n 40 "$out/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
  exit 1
}
arch=$(dpkg --print-architecture)
for p in beacon beacon-client; do
  mv "$trees/${p}_${version}_$arch.deb" "$out/"
  echo "$out/${p}_${version}_$arch.deb"
done
mv "$trees"/*.changes "$out/" 2>/dev/null || true
