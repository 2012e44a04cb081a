"""Every benchmark, one after another: ``.venv/bin/python -m benchmarks``.

Each runs in a process of its own (so one's servers and memory never colour the
next) and prints its figures; nothing is asserted. BENCHMARKS.md holds the last
figures. ``--quick`` uses smaller counts for a first look (about 5 minutes
instead of about 15).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

FULL: list[tuple[str, list[str]]] = [
    ("B1 lifecycles beside a bare workflow", ["benchmarks.lifecycle", "--n", "100", "--rounds", "3"]),
    ("B2 20-insurer fan-out, send → all sent", ["benchmarks.send_to_sent", "--insurers", "20", "--rounds", "10"]),
    ("B3 dashboard at 10,000 requests, SQLite", ["benchmarks.dashboard", "--requests", "10000", "--runs", "30"]),
    ("B3 dashboard at 10,000 requests, PostgreSQL", ["benchmarks.dashboard", "--requests", "10000", "--runs", "30",
                                                    "--pg"]),
    ("B4 worker RSS at 1k, 5k, 10k open tenders", ["benchmarks.worker_memory", "--steps", "1000,5000,10000"]),
    ("B5 web RSS during an upload", ["benchmarks.upload_memory", "--mib", "14"]),
    ("B6 50 offers at once, 50 users log in and load pages meanwhile",
     ["benchmarks.offer_burst", "--insurers", "50", "--logins", "50"]),
    ("B6 50 dashboards at once, quiet vs during an upload", ["benchmarks.concurrency", "--rounds", "10",
                                                            "--concurrency", "50", "--upload-mib", "5"]),
]
QUICK_COUNTS = {"--n": "30", "--rounds": "2", "--requests": "2000", "--runs": "10", "--insurers": "20",
                "--steps": "200,500"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    args = parser.parse_args()
    failed = []
    for title, argv in FULL:
        if args.quick:
            argv = [QUICK_COUNTS.get(prev, arg) if prev in QUICK_COUNTS else arg
                    for prev, arg in zip(["", *argv], argv, strict=True)]
        print(f"\n=== {title}: python -m {' '.join(argv)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", *argv])
        print(f"=== {title}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(title)
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
