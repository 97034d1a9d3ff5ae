#!/bin/sh
# Sets our collector against fusioninventory-agent on this machine: wall
# time and peak RSS (GNU time -v, median of 3 runs each, alternated so that
# both see the same cache and load), output size (bytes, gzip -9 bytes) and
# field coverage (sections, non-empty values), printed as a Markdown table.
#
#   bench/collect/compare.sh [BUILD_DIR]     (default: build)
#
# Ours is bench/beacon-collect-xml (inventory::Collect + ToXml, what the
# client collects before it packs and uploads; `beacon-client inventory
# --now` needs an enrolled device and a beacon, so it cannot run alone).
# fusioninventory-agent runs as `--local DIR --tasks=inventory`, which
# writes DIR/<id>.ocs (its inventory XML) and runs no other task.
# Installs fusioninventory-agent and time from Debian when missing (root).
#
# Coverage is counted the same way in both documents: a section is a
# distinct child element of the content root (REQUEST/CONTENT for FI, the
# <inventory> root for ours, plus each <section name> when the document has
# them); a value is a non-empty attribute, or a leaf element with non-empty
# text. Run as root for both to see root-only data (DMI serials).
set -eu
build=${1:-build}
ours="$build/bench/beacon-collect-xml"
[ -x "$ours" ] || { echo "missing $ours: make -C $build beacon-collect-xml" >&2; exit 1; }
need=""
command -v fusioninventory-agent >/dev/null 2>&1 || need="$need fusioninventory-agent"
[ -x /usr/bin/time ] || need="$need time"
if [ -n "$need" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {  # run NAME I COMMAND...: output to $work/NAME.I.out, time -v to $work/NAME.I.time
  name=$1 i=$2
  shift 2
  /usr/bin/time -v -o "$work/$name.$i.time" "$@" >"$work/$name.$i.stdout" 2>"$work/$name.$i.stderr"
}

for i in 1 2 3; do
  run ours "$i" sh -c "\"$ours\" >\"$work/ours.$i.xml\""
  mkdir -p "$work/fi.$i"
  run fi "$i" fusioninventory-agent --local "$work/fi.$i" --tasks=inventory
  cp "$(ls "$work/fi.$i"/*.ocs | head -n 1)" "$work/fi.$i.xml"
done

python3 - "$work" <<'PY'
import gzip, re, statistics, sys, xml.etree.ElementTree as ET
work = sys.argv[1]

def time_of(name):
    wall, rss = [], []
    for i in (1, 2, 3):
        text = open(f"{work}/{name}.{i}.time").read()
        m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
        h, mnt, s = m.groups()
        wall.append(int(h or 0) * 3600 + int(mnt) * 60 + float(s))
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)))
    return statistics.median(wall), statistics.median(rss), min(wall), max(wall)

def coverage(path, fi):
    root = ET.parse(path).getroot()
    content = root.find("CONTENT") if fi else root
    sections = {child.tag for child in content}
    sections |= {"section:" + s.get("name") for s in content.iter("section") if s.get("name")}
    values = 0
    for el in content.iter():
        if el is content:
            continue
        values += sum(1 for v in el.attrib.values() if v.strip())
        if len(el) == 0 and el.text and el.text.strip():
            values += 1
    return sorted(sections), values

rows = []
names = []
for name, label, fi in (("ours", "beacon-collect-xml", False), ("fi", "fusioninventory-agent --local", True)):
    wall, rss, lo, hi = time_of(name)
    data = open(f"{work}/{name}.1.xml", "rb").read()
    secs, nval = coverage(f"{work}/{name}.1.xml", fi)
    nsec = len(secs)
    names.append(f"- {label}: " + ", ".join(secs))
    rows.append(f"| {label} | {wall:.2f} ({lo:.2f}-{hi:.2f}) | {rss / 1024:.1f} | {len(data)} | "
                f"{len(gzip.compress(data, 9))} | {nsec} | {nval} |")
print("| collector | wall s, median (min-max) of 3 | peak RSS MiB | output bytes | gzip -9 bytes | sections | non-empty values |")
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))
print()
print("Sections:")
print("\n".join(names))
PY
