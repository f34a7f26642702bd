"""Request one URL at a fixed rate with one session cookie, until a deadline or a stop file.

Usage: request_loop.py URL OUTPUT STOP_FILE DURATION_S INTERVAL_S

The tests copy this script to the client container and start it in the
background while a playbook runs. It stops by itself after DURATION_S seconds,
or as soon as STOP_FILE exists. Each request is written to OUTPUT as one JSON
line: the time since the start in seconds, the HTTP status (0 when no response
arrived), and the session counter, serving node and session id of the response.
The first response's session cookie is sent with every later request.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

REQUEST_TIMEOUT_S = 5


def session_cookie(headers: Any) -> str | None:
    """Return the name=value part of the first Set-Cookie header, or None."""
    for value in headers.get_all("Set-Cookie") or []:
        return value.split(";", 1)[0].strip()
    return None


def send(url: str, cookie: str | None) -> tuple[dict[str, Any], str | None]:
    """Send one GET request and return its record and the session cookie it set, if any."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    record: dict[str, Any] = {}
    body = b""
    headers = None
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            record["status"] = response.status
            headers = response.headers
            body = response.read()
    except urllib.error.HTTPError as error:
        record["status"] = error.code
        headers = error.headers
        body = error.read()
    except (OSError, ValueError) as error:
        record["status"] = 0
        record["error"] = str(error)

    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        record.update({key: decoded.get(key) for key in ("count", "backend", "session_id")})
    elif body:
        record["body"] = body[:200].decode("utf-8", "replace")
    return record, session_cookie(headers) if headers is not None else None


def main() -> int:
    url, output, stop_file = sys.argv[1:4]
    duration_s, interval_s = float(sys.argv[4]), float(sys.argv[5])

    start = time.monotonic()
    next_start = start
    cookie = None
    with open(output, "w", encoding="utf-8", buffering=1) as out:
        while time.monotonic() - start < duration_s and not os.path.exists(stop_file):
            elapsed = time.monotonic() - start
            record, new_cookie = send(url, cookie)
            if cookie is None:
                cookie = new_cookie
            record["t"] = round(elapsed, 3)
            out.write(json.dumps(record) + "\n")

            next_start += interval_s
            time.sleep(max(0.0, next_start - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
