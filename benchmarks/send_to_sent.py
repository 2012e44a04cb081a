"""Benchmark: time from "send" to "sent" for a 10-insurer tender, and worker memory.

Starts everything real on loopback in a temporary folder: the Temporal dev
server (tuned as in ``make run``), an aiosmtpd capture server, SQLite, and the
worker as a separate process (so its memory can be read from /proc). Then it
tenders one request to N insurers R times and prints per-round latency
(start call → every tender row ``sent``), percentiles, and the worker's RSS.

    .venv/bin/python -m benchmarks.send_to_sent [--insurers 10] [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time

from sqlmodel import Session, col, func, select

from benchmarks.stack import WORKER, local_stack, rss_mib
from tenderdesk.db.models import Tender
from tenderdesk.states import TenderStatus
from tests.factories import make_world
from web.tenders.start import start_tenders


async def main(insurers: int, rounds: int) -> None:
    async with local_stack("td-bench-") as stack:
        engine = stack.engine
        worker = stack.spawn(WORKER)
        await asyncio.sleep(2)
        rss_idle = rss_mib(worker.pid)
        latencies: list[float] = []
        for r in range(rounds):
            world = make_world(engine, insurers=insurers, tag=f"b{r}")
            t0 = time.perf_counter()
            outcome = await start_tenders(client=stack.client, engine=engine, task_queue="tenders",
                                          request_id=world.request_id, insurer_ids=world.insurer_ids,
                                          actor_user_id=None, id_prefix="tender")
            assert len(outcome.started) == insurers, outcome.refused
            t_started = time.perf_counter() - t0
            while True:
                with Session(engine) as s:
                    n = s.exec(select(func.count()).select_from(Tender)
                               .where(Tender.request_id == world.request_id)
                               .where(col(Tender.status) == TenderStatus.SENT)).one()
                if n == insurers:
                    break
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("tenders did not reach sent within 60 s")
                await asyncio.sleep(0.005)
            latencies.append(time.perf_counter() - t0)
            print(f"round {r + 1:2d}: {insurers} workflows started in {t_started * 1000:6.0f} ms, "
                  f"all sent after {latencies[-1] * 1000:6.0f} ms")
        rss_busy = rss_mib(worker.pid)
        ranked = sorted(latencies)
        p95 = ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]
        print()
        print(f"send → sent for {insurers} insurers over {rounds} rounds:")
        print(f"  p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms, per tender {statistics.median(latencies) / insurers * 1000:.0f} ms")
        print(f"worker RSS: {rss_idle:.0f} MiB idle, {rss_busy:.0f} MiB after the run "
              f"(ratio {rss_busy / rss_idle:.2f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--insurers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.insurers, args.rounds))
