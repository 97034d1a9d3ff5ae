#!/usr/bin/env python3
"""Hostile clients for bench/attack.sh, on loopback only (the target is always
127.0.0.1). Each mode keeps CONNS connections busy for SECONDS; a connection the
server closes is opened again after --reopen seconds, as a real attacker would,
so the pressure lasts the whole run.

usage: attack.py MODE PORT --conns N --seconds S [options]

modes:
  header-huge   TLS; "GET /v1/ping", then one header line of --bytes (128 MiB)
                sent as fast as the server reads it, then the blank line
  header-many   TLS; "GET /v1/ping", then header lines of about 12 bytes each
                ("X-F0001a: 1") up to --bytes in all, then the blank line
  slow-headers  TLS; a request line, then one short header line every
                --interval seconds, never the blank line (what slowhttptest -H
                does, but from many source addresses)
  slow-body     TLS; a valid upload request (PUT /v1/devices/<uuid>/uploads/logs/<uuid>
                with X-Beacon-Device, X-Beacon-Content-SHA256 and Content-Length:
                --body-size), then one body byte every --interval seconds.
                Uploads need mutual TLS: with --cert/--key/--device the attacker
                holds a device's key (a stolen machine) and uploads as that
                device; without, every request is refused (401) before its body
  idle-tcp      TCP connect, then nothing
  idle-tls      TCP connect and TLS handshake, then nothing

options:
  --sources K      spread connections over K source addresses from
                   --source-base (127.0.1.1): K attacking hosts, so a per-address
                   connection cap is not what holds the line
  --interval S     slow modes: seconds between trickled bytes (default 2, under
                   the beacon's 5 s read_timeout)
  --bytes N        header modes: bytes of header lines per connection
  --body-size N    slow-body: Content-Length (default 65536)
  --reopen S       delay before a closed connection is opened again (default 1)
  --ramp N         connections opened per second while ramping up (default 1000)
  --cert F --key F a client certificate (and key) to present in every handshake
  --device ID      slow-body: the device the uploads are for (that of --cert);
                   default: a random one per request

Prints a progress line to stderr every 5 s and one summary line at the end:
  ATTACK mode= conns= seconds= opened= handshakes= closed_by_server= max_open=
         open_at_end= bytes_sent= answers=<status>:<count>,... errors=<kind>:<count>,...
         attack_cpu_s=<user>+<system>
"""
import argparse
import asyncio
import collections
import ipaddress
import os
import resource
import signal
import ssl
import sys
import time
import uuid

TARGET = "127.0.0.1"  # loopback only


class Stats:
    def __init__(self):
        self.opened = self.handshakes = self.closed = self.open = self.max_open = 0
        self.bytes = 0
        self.answers = collections.Counter()
        self.errors = collections.Counter()

    def line(self):
        def fmt(c):
            return ",".join("%s:%d" % kv for kv in sorted(c.items())) or "-"
        return ("opened=%d handshakes=%d closed_by_server=%d max_open=%d open_at_end=%d "
                "bytes_sent=%d answers=%s errors=%s" % (
                    self.opened, self.handshakes, self.closed, self.max_open, self.open,
                    self.bytes, fmt(self.answers), fmt(self.errors)))


def tls_context(args):
    # The attacker does not verify the certificate: it wants the server's work, not its identity.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    return ctx


async def watch_answer(reader, stats):
    """Reads what the server sends; counts the first status line. Returns at EOF."""
    first = True
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            if first and data.startswith(b"HTTP/"):
                parts = data.split(b" ", 2)
                stats.answers[parts[1].decode(errors="replace") if len(parts) > 1 else "?"] += 1
            first = False
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
        return


def request_head(args, n):
    if args.mode == "slow-body":
        dev, upload = args.device or str(uuid.uuid4()), str(uuid.uuid4())
        return ("PUT /v1/devices/%s/uploads/logs/%s HTTP/1.1\r\nHost: %s\r\n"
                "X-Beacon-Device: %s\r\nX-Beacon-Client-Version: bench-attack\r\n"
                "X-Beacon-Content-SHA256: %s\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % (dev, upload, TARGET, dev, "0" * 64, args.body_size)).encode()
    head = "GET /v1/ping HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-attack\r\n" % TARGET
    if args.mode == "header-huge":
        head += "X-Flood: "
    return head.encode()


def header_lines(start, size):
    """About SIZE bytes of distinct, short header lines, numbered from START."""
    out, n = [], start
    total = 0
    while total < size:
        line = b"X-F%05x: 1\r\n" % (n & 0xFFFFF)
        out.append(line)
        total += len(line)
        n += 1
    return b"".join(out), n


async def one_connection(args, stats, source, n, stop_at):
    """One connection, from open to close. Returns when the server closed it or time is up."""
    use_tls = args.mode != "idle-tcp"
    stats.opened += 1
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(
            TARGET, args.port, ssl=args.tls_context if use_tls else None,
            server_hostname=TARGET if use_tls else None,
            local_addr=(source, 0), ssl_handshake_timeout=30 if use_tls else None), timeout=35)
    except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
        stats.errors["connect_" + type(e).__name__] += 1
        return
    stats.open += 1
    stats.max_open = max(stats.max_open, stats.open)
    if use_tls:
        stats.handshakes += 1
    answer = asyncio.ensure_future(watch_answer(reader, stats))

    async def send(data):
        writer.write(data)
        await writer.drain()
        stats.bytes += len(data)

    async def sleep_or_closed(seconds):
        """True once the server closed the connection."""
        try:
            await asyncio.wait_for(asyncio.shield(answer), timeout=seconds)
            return True
        except asyncio.TimeoutError:
            return False

    try:
        left = lambda: stop_at - time.monotonic()
        if args.mode in ("idle-tcp", "idle-tls"):
            await sleep_or_closed(max(0, left()))
        elif args.mode in ("header-huge", "header-many"):
            await send(request_head(args, n))
            sent, k = 0, 0
            if args.mode == "header-huge":
                chunk = b"a" * 65536
            while sent < args.bytes and left() > 0 and not answer.done():
                if args.mode == "header-many":
                    chunk, k = header_lines(k, 65536)
                part = chunk[:args.bytes - sent]
                await asyncio.wait_for(send(part), timeout=max(0.1, left()))
                sent += len(part)
            if left() > 0 and not answer.done():
                await send(b"\r\n" if args.mode == "header-many" else b"\r\n\r\n")
                await sleep_or_closed(max(0, left()))
        else:  # slow-headers, slow-body: trickle
            await send(request_head(args, n))
            k = 0
            while left() > 0:
                if await sleep_or_closed(min(args.interval, max(0, left()))):
                    break
                if left() <= 0:
                    break
                if args.mode == "slow-headers":
                    await send(b"X-S%04x: %d\r\n" % (k & 0xFFFF, k))
                else:
                    await send(b"x")
                k += 1
    except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as e:
        stats.errors["io_" + type(e).__name__] += 1
    finally:
        if answer.done() and time.monotonic() < stop_at:
            stats.closed += 1
        stats.open -= 1
        answer.cancel()
        writer.transport.abort()


async def slot(args, stats, source, n, stop_at, start_delay):
    await asyncio.sleep(start_delay)
    while time.monotonic() < stop_at:
        await one_connection(args, stats, source, n, stop_at)
        if time.monotonic() + args.reopen >= stop_at:
            break
        await asyncio.sleep(args.reopen)


async def main_async(args):
    start = time.monotonic()
    stop_at = start + args.seconds
    stats = Stats()
    base = ipaddress.IPv4Address(args.source_base)
    sources = [str(base + i) for i in range(args.sources)]
    tasks = [asyncio.ensure_future(slot(args, stats, sources[i % len(sources)], i, stop_at, i / args.ramp))
             for i in range(args.conns)]

    async def progress():
        while True:
            await asyncio.sleep(5)
            print("t=%.0f %s" % (time.monotonic() - start, stats.line()), file=sys.stderr, flush=True)

    reporter = asyncio.ensure_future(progress())
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    # Connections still opening at the end are not waited for.
    await asyncio.wait([asyncio.ensure_future(asyncio.wait(tasks)), asyncio.ensure_future(stopped.wait())],
                       timeout=args.seconds + 2, return_when=asyncio.FIRST_COMPLETED)
    reporter.cancel()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print("ATTACK mode=%s conns=%d seconds=%d %s attack_cpu_s=%.2f+%.2f" % (
        args.mode, args.conns, args.seconds, stats.line(), ru.ru_utime, ru.ru_stime), flush=True)
    os._exit(0)  # no orderly close of thousands of sockets: the kernel does it


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["header-huge", "header-many", "slow-headers", "slow-body",
                                     "idle-tcp", "idle-tls"])
    p.add_argument("port", type=int)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--seconds", type=int, required=True)
    p.add_argument("--sources", type=int, default=1)
    p.add_argument("--source-base", default="127.0.1.1")
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--bytes", type=int, default=128 << 20)
    p.add_argument("--body-size", type=int, default=65536)
    p.add_argument("--reopen", type=float, default=1.0)
    p.add_argument("--ramp", type=float, default=1000.0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--device")
    args = p.parse_args()
    if bool(args.cert) != bool(args.key):
        sys.exit("attack.py: --cert and --key go together")
    args.tls_context = tls_context(args)
    if not ipaddress.IPv4Address(args.source_base).is_loopback:
        sys.exit("attack.py: --source-base must be a loopback address")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.conns + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.conns + 1000), hard))
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
