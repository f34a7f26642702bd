#!/usr/bin/env python3
"""Load the tier's session page over HTTP/1.1 keep-alive and check its counter.

Python 3 standard library only, so it runs inside any container of the
tier's image. bench/session-load copies it into a client container and reads
the JSON it prints.

Modes:
  shared    every connection sends the one session cookie that a first
            request obtained. Every successful response carries the value the
            counter reached, so a lost update shows as a repeated value, and
            the final read must equal the number of successful requests + 2
            (the first request and the final read).
  distinct  each connection gets a session of its own from its first
            response. A count that does not follow the connection's previous
            one is reported as a session reset (expected with file sessions
            behind a round-robin balancer).

Bounds: no request starts after --duration seconds or once --max-requests
requests have started. Requests still in flight then get their own --timeout
to finish, so the run ends at most --duration + --timeout seconds after it
started.
"""

import argparse
import asyncio
import json
import math
import sys
import time

SESSION_COOKIE = "PHPSESSID"


class ProtocolError(Exception):
    """A response that is not valid HTTP/1.1."""


class Stats:
    """Results of one run, shared by every connection's task."""

    def __init__(self):
        self.started = 0
        self.successes = 0
        self.statuses = {}
        self.errors = {}
        # Requests whose effect on the server is unknown: written, then timed
        # out or cut off before the whole response arrived.
        self.unknown_outcome = 0
        self.latencies = []
        self.counts = []
        self.session_mismatches = 0
        self.resets = 0
        self.backends = {}
        self.last_completion = None

    def error(self, kind):
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def read_response(reader):
    """Read one response and return (status, headers, body)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed before the status line")
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"invalid status line {status_line[:80]!r}")
    status = int(parts[1])

    headers = {}
    cookies = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionResetError("connection closed inside the headers")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        value = value.strip()
        if name == "set-cookie":
            cookies.append(value)
        headers[name] = value
    headers["set-cookie"] = cookies

    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # Trailers, if any, end with an empty line.
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return status, headers, bytes(body)
    length = int(headers.get("content-length", "0"))
    return status, headers, await reader.readexactly(length)


def session_cookie(headers):
    """Return the 'PHPSESSID=...' pair of a response, or None."""
    for value in headers["set-cookie"]:
        pair = value.split(";", 1)[0].strip()
        if pair.startswith(SESSION_COOKIE + "="):
            return pair
    return None


class Client:
    """One keep-alive connection that reconnects after errors."""

    def __init__(self, args):
        self.args = args
        self.reader = None
        self.writer = None
        # Whether the current request was written, so that its failure may
        # have reached PHP. A refused connection cannot have.
        self.request_sent = False

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def get(self, cookie):
        """Send one GET request and return (status, headers, body)."""
        self.request_sent = False
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.args.host, self.args.port)
        request = (
            f"GET {self.args.path} HTTP/1.1\r\n"
            f"Host: {self.args.host_header or self.args.host}\r\n"
            "User-Agent: tier-bench-loadgen\r\n"
            "Accept: application/json\r\n"
        )
        if cookie:
            request += f"Cookie: {cookie}\r\n"
        self.writer.write((request + "\r\n").encode("latin-1"))
        self.request_sent = True
        await self.writer.drain()
        response = await read_response(self.reader)
        if response[1].get("connection", "").lower() == "close":
            await self.close()
        return response


async def one_request(client, cookie, stats, timeout):
    """Send one request, record its outcome and return (parsed JSON body or None, headers or None)."""
    start = time.perf_counter()
    try:
        status, headers, body = await asyncio.wait_for(client.get(cookie), timeout)
    except asyncio.TimeoutError:
        stats.error("timeout")
        stats.unknown_outcome += int(client.request_sent)
        await client.close()
        return None, None
    except (OSError, asyncio.IncompleteReadError, ProtocolError, ValueError) as error:
        stats.error(type(error).__name__)
        stats.unknown_outcome += int(client.request_sent)
        await client.close()
        return None, None
    now = time.perf_counter()
    stats.latencies.append(now - start)
    stats.last_completion = now
    stats.statuses[status] = stats.statuses.get(status, 0) + 1
    if not 200 <= status < 300:
        return None, headers
    try:
        data = json.loads(body)
    except ValueError:
        stats.error("invalid JSON body")
        return None, headers
    stats.successes += 1
    backend = data.get("backend", "?")
    stats.backends[backend] = stats.backends.get(backend, 0) + 1
    return data, headers


async def worker(args, stats, deadline, shared_cookie, shared_id):
    client = Client(args)
    cookie = shared_cookie
    session_id = shared_id
    expected = None
    try:
        while time.perf_counter() < deadline and stats.started < args.max_requests:
            stats.started += 1
            data, headers = await one_request(client, cookie, stats, args.timeout)
            if data is None:
                continue
            count = data.get("count")
            if args.mode == "shared":
                stats.counts.append(count)
                if data.get("session_id") != shared_id:
                    stats.session_mismatches += 1
                continue
            # distinct: the first response creates this connection's session.
            if cookie is None:
                cookie = session_cookie(headers)
                session_id = data.get("session_id")
                if cookie is None:
                    stats.error("no session cookie")
            elif data.get("session_id") != session_id:
                stats.session_mismatches += 1
            elif count != expected:
                stats.resets += 1
            expected = count + 1 if isinstance(count, int) else None
    finally:
        await client.close()


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def run(args):
    stats = Stats()
    shared_cookie = shared_id = None
    first_count = None
    if args.mode == "shared":
        client = Client(args)
        try:
            status, headers, body = await asyncio.wait_for(client.get(None), args.timeout)
        finally:
            await client.close()
        if status != 200:
            raise SystemExit(f"error: the first request to {args.path} returned HTTP {status}")
        shared_cookie = session_cookie(headers)
        if shared_cookie is None:
            raise SystemExit(f"error: the first response from {args.path} set no {SESSION_COOKIE} cookie")
        data = json.loads(body)
        shared_id = data["session_id"]
        first_count = data["count"]

    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + args.duration
    tasks = [
        asyncio.create_task(worker(args, stats, deadline, shared_cookie, shared_id)) for _ in range(args.connections)
    ]
    # Every request in flight at the deadline has its timeout left to finish.
    done, pending = await asyncio.wait(tasks, timeout=args.duration + args.timeout + 1)
    for task in pending:
        task.cancel()
    abandoned = len(pending)
    for task in done:
        if task.exception() is not None:
            raise task.exception()
    elapsed = (stats.last_completion or time.perf_counter()) - start
    cpu = time.process_time() - cpu_start

    latencies = sorted(stats.latencies)
    result = {
        "mode": args.mode,
        "target": f"{args.host}:{args.port}{args.path}",
        "connections": args.connections,
        "duration_s": args.duration,
        "max_requests": args.max_requests,
        "elapsed_s": round(elapsed, 3),
        "requests": stats.started,
        "successes": stats.successes,
        "failures": stats.started - stats.successes,
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "errors": stats.errors,
        "unknown_outcome": stats.unknown_outcome + abandoned,
        "abandoned_connections": abandoned,
        "requests_per_s": round(stats.successes / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": {
            name: round(value * 1000, 2) if value is not None else None
            for name, value in (
                ("p50", percentile(latencies, 0.50)),
                ("p90", percentile(latencies, 0.90)),
                ("p99", percentile(latencies, 0.99)),
                ("max", latencies[-1] if latencies else None),
            )
        },
        "session_mismatches": stats.session_mismatches,
        "backends": stats.backends,
        "client_cpu_s": round(cpu, 2),
    }
    if args.mode == "distinct":
        result["session_resets"] = stats.resets
    else:
        result.update(await check_counter(args, stats, shared_cookie, shared_id, first_count, abandoned))
    return result


async def check_counter(args, stats, cookie, session_id, first_count, abandoned):
    """Read the counter once more and compare it with the successful requests.

    Without lost updates the final read returns first_count + successes + 1,
    plus up to one for each request whose outcome is unknown (it may have
    reached PHP). A lost update also shows as a value two responses share.
    """
    data, status = await read_final_count(args, cookie)
    if data is None:
        return {"first_count": first_count, "final_read_status": status, "counter_ok": False}
    final = data.get("count")
    counts = [count for count in stats.counts if isinstance(count, int)]
    repeated = len(counts) - len(set(counts))
    unknown = stats.unknown_outcome + abandoned
    lowest = first_count + stats.successes + 1
    highest = lowest + unknown
    counter_ok = (
        isinstance(final, int)
        and lowest <= final <= highest
        and repeated == 0
        and len(counts) == stats.successes
        and stats.session_mismatches == 0
        and data.get("session_id") == session_id
    )
    return {
        "first_count": first_count,
        "final_count": final,
        "expected_final_count": [lowest, highest],
        "repeated_counts": repeated,
        "lost_updates": max(repeated, lowest - final if isinstance(final, int) else 0),
        "counter_ok": counter_ok,
    }


async def read_final_count(args, cookie):
    client = Client(args)
    try:
        status, _headers, body = await asyncio.wait_for(client.get(cookie), args.timeout)
    finally:
        await client.close()
    if status != 200:
        return None, status
    return json.loads(body), status


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", required=True, help="address of the balancer")
    parser.add_argument("--port", type=int, default=80, help="TCP port (default 80)")
    parser.add_argument("--host-header", default="", help="Host header (default: --host)")
    parser.add_argument("--path", default="/session.php", help="page to request (default /session.php)")
    parser.add_argument("--mode", choices=["shared", "distinct"], required=True)
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--duration", type=float, default=15, help="seconds of load (default 15)")
    parser.add_argument(
        "--max-requests", type=int, default=100_000, help="maximum requests started in one run (default 100000)"
    )
    parser.add_argument(
        "--timeout", type=float, default=10, help="seconds one request may take before it counts as failed (default 10)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 1024:
        parser.error(f"--connections is {args.connections}; use 1 to 1024")
    if not 0 < args.duration <= 600:
        parser.error(f"--duration is {args.duration}; use more than 0 and at most 600 seconds")
    if not 1 <= args.max_requests <= 10_000_000:
        parser.error(f"--max-requests is {args.max_requests}; use 1 to 10000000")
    if not 0 < args.timeout <= 120:
        parser.error(f"--timeout is {args.timeout}; use more than 0 and at most 120 seconds")
    if not 1 <= args.port <= 65535:
        parser.error(f"--port is {args.port}; use 1 to 65535")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        result = asyncio.run(run(args))
    except OSError as error:
        print(f"error: cannot reach http://{args.host}:{args.port}{args.path}: {error}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
