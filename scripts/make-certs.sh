#!/bin/sh
# Makes an estate CA and one ECDSA P-256 server certificate signed by it.
#   scripts/make-certs.sh [--ca CADIR] DIR NAME [NAME...]
# DIR/ca.pem, DIR/ca.key        the estate CA (kept if it already exists;
#                                copied from CADIR with --ca)
# DIR/policy.key, DIR/policy.pub the estate's Ed25519 policy signing key pair
# DIR/server.pem, DIR/server.key a certificate whose subjectAltName lists every
#                                NAME (IP addresses become IP entries)
set -eu
ca_dir=""
if [ "${1:-}" = "--ca" ]; then ca_dir=$2; shift 2; fi
dir=$1; shift
[ $# -ge 1 ] || { echo "usage: $0 DIR NAME [NAME...]" >&2; exit 2; }
mkdir -p "$dir"
if [ -n "$ca_dir" ]; then cp "$ca_dir/ca.pem" "$ca_dir/ca.key" "$dir/"; fi
cd "$dir"
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/CN=Beacon Estate CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
# The estate's policy signing key pair (Ed25519): the central signs manifests
# with policy.key, clients verify them with policy.pub.
if [ ! -f policy.key ]; then
  openssl genpkey -algorithm ed25519 -out policy.key 2>/dev/null
  openssl pkey -in policy.key -pubout -out policy.pub 2>/dev/null
  chmod 600 policy.key
fi
san=""
for n in "$@"; do
  case "$n" in
    *:*) entry="IP:$n" ;;           # IPv6 address
    *[!0-9.]*) entry="DNS:$n" ;;
    *) entry="IP:$n" ;;
  esac
  san="${san:+$san,}$entry"
done
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -subj "/CN=$1" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 825 \
  -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext
chmod 600 ca.key server.key
