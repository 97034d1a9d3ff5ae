#!/usr/bin/env python3
"""Prints the manifest ETag of bench devices 1..N, one per line, fetched over
one keep-alive TLS connection. Manifests are signed per device, so each device
has its own ETag; checkin.lua sends each device its own.

usage: etags.py HOST PORT CA_FILE N [CERT KEY]

CERT and KEY: the client certificate to present (mutual TLS); it must be a
beacon certificate, the only kind that may ask for any device's manifest.
"""
import http.client
import ssl
import sys


def device_id(n):  # as in bench/common.lua
    return "b0000000-0000-4000-8000-%012x" % n


def main():
    host, port, ca, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    ctx = ssl.create_default_context(cafile=ca)
    if len(sys.argv) > 6:
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    conn = http.client.HTTPSConnection(host, port, context=ctx)
    for n in range(1, count + 1):
        dev = device_id(n)
        conn.request("GET", "/v1/devices/%s/manifest" % dev,
                     headers={"X-Beacon-Device": dev, "X-Beacon-Client-Version": "bench-0.1"})
        res = conn.getresponse()
        res.read()
        etag = res.getheader("ETag")
        if res.status != 200 or not etag:
            sys.exit("etags.py: device %s: status %d" % (dev, res.status))
        print(etag)


if __name__ == "__main__":
    main()
