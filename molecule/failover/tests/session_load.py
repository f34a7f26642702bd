"""Create or revisit PHP sessions through the balancer; run inside the client container.

Reads a JSON request on stdin and prints a JSON report on stdout:

  {"url": "http://BALANCER/session.php", "mode": "create", "count": 300,
   "concurrency": 8, "timeout": 5, "budget": 120}
  {"url": ..., "mode": "revisit", "sessions": [{"cookie": "PHPSESSID=...",
   "session_id": "...", "count": 1}, ...], "concurrency": 8, ...}

"create" sends `count` requests without a cookie, so each starts a session.
"revisit" sends one request per given session with its cookie. The report
lists one result per request, in request order: HTTP status, the session
id and counter that /session.php returned, the cookie to send next, the node
that served it, the elapsed time in seconds and any error. Each request has
`timeout` seconds; requests not started within `budget` seconds are
reported as skipped, so a run never exceeds the budget by more than one
request timeout.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie

SESSION_COOKIE = "PHPSESSID"


def request(url: str, cookie: str | None, timeout: float, deadline: float) -> dict:
    if time.monotonic() > deadline:
        return {"status": None, "error": "skipped: the run's time budget is used up", "elapsed": 0.0}
    headers = {"Cookie": cookie} if cookie else {}
    started = time.monotonic()
    result: dict = {"status": None, "error": None}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            result["status"] = response.status
            body = response.read()
            set_cookie = response.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as error:
        result["status"] = error.code
        body = error.read()
        set_cookie = error.headers.get_all("Set-Cookie") or []
    except (OSError, ValueError) as error:
        result["error"] = f"{type(error).__name__}: {error}"
        result["elapsed"] = time.monotonic() - started
        return result
    result["elapsed"] = time.monotonic() - started

    # A Set-Cookie with the session cookie means that PHP started a new
    # session, so the cookie to send next is the new one.
    result["cookie"] = cookie
    for header in set_cookie:
        parsed = SimpleCookie()
        parsed.load(header)
        if SESSION_COOKIE in parsed:
            result["cookie"] = f"{SESSION_COOKIE}={parsed[SESSION_COOKIE].value}"
            result["new_cookie"] = True
    try:
        payload = json.loads(body)
    except ValueError:
        result["error"] = f"not JSON: {body[:200]!r}"
        return result
    result["session_id"] = payload.get("session_id")
    result["count"] = payload.get("count")
    result["backend"] = payload.get("backend")
    if "error" in payload:
        result["error"] = payload["error"]
    return result


def main() -> None:
    order = json.load(sys.stdin)
    url = order["url"]
    timeout = float(order.get("timeout", 5))
    deadline = time.monotonic() + float(order.get("budget", 120))
    if order["mode"] == "create":
        cookies = [None] * int(order["count"])
    else:
        cookies = [session["cookie"] for session in order["sessions"]]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=int(order.get("concurrency", 8))) as pool:
        results = list(pool.map(lambda cookie: request(url, cookie, timeout, deadline), cookies))
    json.dump({"duration": time.monotonic() - started, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
