#!/usr/bin/env python3
"""A legitimate client's view of a server under load: GET PATH on a fresh TLS
connection (certificate verified against CA) once every INTERVAL seconds, each
with a TIMEOUT for the whole exchange (connect, handshake, answer). Probes start
on a fixed schedule, each in its own thread, so one slow probe does not delay
the next.

usage: probe.py PORT CA [--count N] [--interval S] [--timeout S]
                [--source ADDR] [--path P] [--out FILE]

Writes one line per probe to --out ("START_S STATUS SECONDS", STATUS "-" when
unanswered, with the error after it) and prints a summary line:
  PROBE sent= answered= answered_pct= p50_ms= p99_ms= max_ms= errors=
Percentiles are nearest-rank over all probes; an unanswered probe counts as
longer than TIMEOUT, printed as ">TIMEOUT_ms". With 60 probes, p99 is the
slowest one.
"""
import argparse
import collections
import math
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"  # loopback only


def one_probe(args, ctx):
    """Returns (status or None, seconds, error text)."""
    t0 = time.monotonic()
    deadline = t0 + args.timeout

    def left():
        r = deadline - time.monotonic()
        if r <= 0:
            raise socket.timeout("deadline")
        return r

    try:
        raw = socket.create_connection((HOST, args.port), timeout=left(),
                                       source_address=(args.source, 0) if args.source else None)
        with raw:
            raw.settimeout(left())
            with ctx.wrap_socket(raw, server_hostname=HOST) as s:
                s.settimeout(left())
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-probe\r\n"
                           "Connection: close\r\n\r\n" % (args.path, HOST)).encode())
                data = b""
                while True:
                    s.settimeout(left())
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    head, sep, body = data.partition(b"\r\n\r\n")
                    if sep:
                        length = 0
                        for line in head.split(b"\r\n")[1:]:
                            k, _, v = line.partition(b":")
                            if k.strip().lower() == b"content-length":
                                length = int(v.strip())
                        if len(body) >= length:
                            break
                line = data.split(b"\r\n", 1)[0].split()
                if len(line) < 2 or not line[0].startswith(b"HTTP/"):
                    return None, time.monotonic() - t0, "no_answer"
                return int(line[1]), time.monotonic() - t0, ""
    except (OSError, ssl.SSLError, ValueError) as e:
        kind = "timeout" if isinstance(e, (socket.timeout, TimeoutError)) else type(e).__name__
        return None, time.monotonic() - t0, kind


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("ca")
    p.add_argument("--count", type=int, default=60)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--source", default="")
    p.add_argument("--path", default="/v1/ping")
    p.add_argument("--out", default="")
    args = p.parse_args()

    ctx = ssl.create_default_context(cafile=args.ca)
    results = [None] * args.count
    out = open(args.out, "w") if args.out else None
    lock = threading.Lock()
    start = time.monotonic()

    def run(i):
        status, secs, err = one_probe(args, ctx)
        results[i] = (status, secs, err)
        if out:
            with lock:
                out.write("%.1f %s %.4f %s\n" % (i * args.interval, status or "-", secs, err))
                out.flush()

    threads = []
    for i in range(args.count):
        delay = start + i * args.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=run, args=(i,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(args.timeout + 5)

    done = [r for r in results if r is not None]
    answered = sorted(r[1] for r in done if r[0] == 200)  # a 503 is not an answer
    errors = collections.Counter(r[2] if r[0] is None else "status_%d" % r[0]
                                 for r in done if r[0] != 200)
    # Nearest rank over all probes, unanswered ones last (longer than the timeout).
    def pct(q):
        if not results:
            return "-"
        rank = max(1, math.ceil(q / 100.0 * len(results)))
        if rank > len(answered):
            return ">%d" % (args.timeout * 1000)
        return "%.0f" % (answered[rank - 1] * 1000)
    ok = sum(1 for r in done if r[0] == 200)
    print("PROBE sent=%d answered=%d answered_pct=%.1f p50_ms=%s p99_ms=%s max_ms=%s errors=%s" % (
        args.count, ok, 100.0 * ok / max(1, args.count), pct(50), pct(99), pct(100),
        ",".join("%s:%d" % kv for kv in sorted(errors.items())) or "-"))
    if out:
        out.close()


if __name__ == "__main__":
    sys.exit(main())
