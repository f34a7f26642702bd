"""Record which upstream servers the balancer's configuration file marks `down`.

Usage: drain_watch.py CONFIG OUTPUT STOP_FILE DURATION_S INTERVAL_S

The tests start this script in the background on the balancer while a
rolling update runs. It reads CONFIG every INTERVAL_S seconds and writes one
JSON line to OUTPUT each time the set of drained servers changes: the time
since the start in seconds and the sorted server addresses. The first line is
the state at the start. It stops by itself after DURATION_S seconds, or as
soon as STOP_FILE exists.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

# An upstream server line with the `down` parameter, before any comment.
DOWN_SERVER = re.compile(r"^\s*server\s+(\S+)\s[^;#]*\bdown\b[^;#]*;")


def drained_servers(config: str) -> list[str]:
    """Return the addresses of the servers marked `down` in the file ``config``, sorted."""
    try:
        with open(config, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    return sorted(match.group(1) for line in lines if (match := DOWN_SERVER.match(line)))


def main() -> int:
    config, output, stop_file = sys.argv[1:4]
    duration_s, interval_s = float(sys.argv[4]), float(sys.argv[5])

    start = time.monotonic()
    last = None
    with open(output, "w", encoding="utf-8", buffering=1) as out:
        while time.monotonic() - start < duration_s and not os.path.exists(stop_file):
            current = drained_servers(config)
            if current != last:
                out.write(json.dumps({"t": round(time.monotonic() - start, 3), "down": current}) + "\n")
                last = current
            time.sleep(interval_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
