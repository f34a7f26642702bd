"""Look up, store or count keys on memcached servers; run inside a web node.

Reads a JSON request on stdin and prints a JSON report on stdout:

  {"action": "locate", "servers": ["ADDRESS:PORT", ...], "keys": ["...", ...]}
      -> {"holders": {key: [servers that hold it]}, "errors": {server: error}}
  {"action": "fill", "server": "ADDRESS:PORT", "prefix": "p.", "count": 1000, "ttl": 3600}
      -> {"stored": n}
  {"action": "count", "server": "ADDRESS:PORT", "prefix": "p.", "count": 1000}
      -> {"present": n, "intact": n}

"fill" stores <prefix><i> = "value-<i>" for i in 0..count-1; "count" counts
those keys, and the ones whose value is still intact. Every socket operation
times out after 3 seconds.
"""

from __future__ import annotations

import json
import socket
import sys

TIMEOUT = 3.0
BATCH = 100


class Client:
    def __init__(self, server: str) -> None:
        host, _, port = server.rpartition(":")
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)
        self.reader = self.sock.makefile("rb")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def line(self) -> bytes:
        data = self.reader.readline()
        if not data:
            raise ConnectionError("the server closed the connection")
        return data.rstrip(b"\r\n")

    def values(self, keys: list[str]) -> list[bytes | None]:
        """Return each key's value, or None for a miss (meta get, pipelined)."""
        found: list[bytes | None] = []
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            self.sock.sendall(b"".join(f"mg {key} v\r\n".encode() for key in batch))
            for key in batch:
                reply = self.line()
                if reply.startswith(b"EN"):
                    found.append(None)
                elif reply.startswith(b"VA "):
                    size = int(reply.split()[1])
                    found.append(self.reader.read(size + 2)[:-2])
                else:
                    raise ValueError(f"unexpected reply to mg {key}: {reply!r}")
        return found

    def set_many(self, items: list[tuple[str, bytes]], ttl: int) -> int:
        stored = 0
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            self.sock.sendall(
                b"".join(f"set {key} 0 {ttl} {len(value)}\r\n".encode() + value + b"\r\n" for key, value in batch)
            )
            stored += sum(1 for _ in batch if self.line() == b"STORED")
        return stored


def locate(request: dict) -> dict:
    keys = request["keys"]
    holders: dict[str, list[str]] = {key: [] for key in keys}
    errors = {}
    for server in request["servers"]:
        try:
            client = Client(server)
            try:
                for key, value in zip(keys, client.values(keys)):
                    if value is not None:
                        holders[key].append(server)
            finally:
                client.close()
        except (OSError, ValueError) as error:
            errors[server] = f"{type(error).__name__}: {error}"
    return {"holders": holders, "errors": errors}


def item_keys(request: dict) -> list[str]:
    return [f"{request['prefix']}{i}" for i in range(int(request["count"]))]


def fill(request: dict) -> dict:
    client = Client(request["server"])
    try:
        items = [(key, f"value-{key}".encode()) for key in item_keys(request)]
        return {"stored": client.set_many(items, int(request["ttl"]))}
    finally:
        client.close()


def count(request: dict) -> dict:
    client = Client(request["server"])
    try:
        keys = item_keys(request)
        values = client.values(keys)
    finally:
        client.close()
    present = [(key, value) for key, value in zip(keys, values) if value is not None]
    intact = sum(1 for key, value in present if value == f"value-{key}".encode())
    return {"present": len(present), "intact": intact}


ACTIONS = {"locate": locate, "fill": fill, "count": count}

if __name__ == "__main__":
    order = json.load(sys.stdin)
    json.dump(ACTIONS[order["action"]](order), sys.stdout)
