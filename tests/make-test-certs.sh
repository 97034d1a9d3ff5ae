#!/bin/sh
# Client certificates for the mutual-TLS tests, made at configure time after
# scripts/make-certs.sh has made the estate CA (DIR/ca.pem) and another CA
# (OTHER/ca.pem). ECDSA P-256 throughout.
#   tests/make-test-certs.sh DIR OTHER
# Signed by DIR/ca.pem (the estate CA):
#   device.pem   device 11111111-2222-4333-8444-555555555555, clientAuth
#   device2.pem  device 66666666-7777-4888-9999-aaaaaaaaaaaa, clientAuth
#   beacon.pem   beacon "dmz", serverAuth+clientAuth, also IP:127.0.0.1, DNS:localhost
#   expired.pem  a device certificate valid only on 2020-01-01
#   future.pem   a device certificate valid only from 2045
#   plain.pem    clientAuth, but no estate policy and no estate URI
#   crl.pem      an (empty) CRL of the estate CA, for bundles that carry one
# Signed by OTHER/ca.pem: wrongca.pem (device 11111111-...-555555555555).
# Signed by a third CA (ca3.pem, "Beacon Estate CA 3"), which the estate CA
# has cross-signed (cross3.pem): device3.pem, and device3-chain.pem = the
# leaf followed by the cross-certificate.
# Each NAME.pem has its key in NAME.key.
set -eu
dir=$1
other=$2
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

device_oid=2.25.337419849690851785918792908136157759878.1.1
beacon_oid=2.25.337419849690851785918792908136157759878.1.2

# `openssl ca` (the only way to choose validity dates in OpenSSL 3.0) needs
# a database; nothing else here is kept.
: > "$tmp/index.txt"
echo 1000 > "$tmp/serial"
cat > "$tmp/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $tmp/index.txt
new_certs_dir = $tmp
serial = $tmp/serial
default_md = sha256
default_crl_days = 3650
policy = any
unique_subject = no
[any]
commonName = supplied
EOF

# ext NAME KIND ID [EKU] [EXTRA_SAN]: an extension file for one certificate.
ext() {
  oid=$device_oid
  [ "$2" = beacon ] && oid=$beacon_oid
  san="URI:urn:beacon:$2:$3${5:+,$5}"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\ncertificatePolicies=%s\nsubjectAltName=%s\n' \
    "${4:-clientAuth}" "$oid" "$san" > "$tmp/$1.ext"
}

csr() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -subj "/CN=$1" \
    -keyout "$1.key" -out "$tmp/$1.csr" 2>/dev/null
  chmod 600 "$1.key"
}

# sign NAME CA_PEM CA_KEY: a certificate valid from now for 825 days.
sign() {
  openssl x509 -req -in "$tmp/$1.csr" -CA "$2" -CAkey "$3" -CAcreateserial -CAserial "$tmp/x509.srl" \
    -sha256 -days 825 -extfile "$tmp/$1.ext" -out "$1.pem" 2>/dev/null
}

# dated NAME START END: signed by the estate CA with the given validity.
dated() {
  openssl ca -batch -notext -config "$tmp/ca.cnf" -cert ca.pem -keyfile ca.key -in "$tmp/$1.csr" \
    -out "$1.pem" -startdate "$2" -enddate "$3" -extfile "$tmp/$1.ext" 2>/dev/null
}

csr device; ext device device 11111111-2222-4333-8444-555555555555; sign device ca.pem ca.key
csr device2; ext device2 device 66666666-7777-4888-9999-aaaaaaaaaaaa; sign device2 ca.pem ca.key
csr beacon; ext beacon beacon dmz serverAuth,clientAuth "IP:127.0.0.1,DNS:localhost"; sign beacon ca.pem ca.key
csr expired; ext expired device 11111111-2222-4333-8444-555555555555
dated expired 20200101000000Z 20200102000000Z
csr future; ext future device 11111111-2222-4333-8444-555555555555
dated future 20450101000000Z 20460101000000Z
csr plain
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:plain.example\n' > "$tmp/plain.ext"
sign plain ca.pem ca.key
csr wrongca; ext wrongca device 11111111-2222-4333-8444-555555555555; sign wrongca "$other/ca.pem" "$other/ca.key"
openssl ca -batch -config "$tmp/ca.cnf" -cert ca.pem -keyfile ca.key -gencrl -out crl.pem 2>/dev/null

# A third CA, and its certificate signed by the estate CA (a rollover's cross-certificate).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
  -subj "/CN=Beacon Estate CA 3" -keyout ca3.key -out ca3.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
chmod 600 ca3.key
openssl x509 -x509toreq -in ca3.pem -signkey ca3.key -out "$tmp/cross3.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$tmp/cross3.ext"
sign cross3 ca.pem ca.key
csr device3; ext device3 device 33333333-2222-4333-8444-555555555555; sign device3 ca3.pem ca3.key
cat device3.pem cross3.pem > device3-chain.pem
cp device3.key device3-chain.key
