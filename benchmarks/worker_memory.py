"""B4: worker memory (RSS) with 1,000, 5,000 and 10,000 open tenders on timers.

Starts the real stack on loopback (Temporal dev server, SMTP sink, SQLite, the
worker as its own process so /proc tells its RSS), then opens tenders in steps
until each step's count is reached. An open tender is one whose email went out
(row ``sent``): its workflow then waits on its reminder and deadline timers,
which is what most tenders do most of their life. After each step the worker
idles a few seconds and its RSS is read, beside the sticky cache setting
(``WORKER_MAX_CACHED_WORKFLOWS``), which bounds how many of those workflows
stay in memory. Nothing is asserted.

    .venv/bin/python -m benchmarks.worker_memory [--steps 1000,5000,10000] [--cache 500]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from temporalio.client import Client

from benchmarks.lifecycle import count, cpu_s, until
from benchmarks.stack import WORKER, local_stack, rss_mib
from tenderdesk.states import TenderStatus
from tests.factories import make_world
from web.tenders.start import start_tenders

PER_REQUEST = 20
#: Requests started at once: enough to keep the worker busy, few enough that
#: the start calls do not time out on two cores.
CONCURRENT_REQUESTS = 5


async def open_tenders(client: Client, engine: object, n: int, tag: str) -> list[int]:
    worlds = [make_world(engine, insurers=PER_REQUEST, tag=f"{tag}{i}r")  # type: ignore[arg-type]
              for i in range(n // PER_REQUEST)]
    gate = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def start(world: object) -> None:
        async with gate:
            await start_tenders(client=client, engine=engine, task_queue="tenders",  # type: ignore[arg-type]
                                request_id=world.request_id, insurer_ids=world.insurer_ids,  # type: ignore[attr-defined]
                                actor_user_id=None, id_prefix="tender")

    await asyncio.gather(*(start(w) for w in worlds))
    return [w.request_id for w in worlds]


async def main(steps: list[int], cache: int, settle_s: float) -> None:
    async with local_stack("td-b4-", WORKER_MAX_CACHED_WORKFLOWS=str(cache)) as stack:
        worker = stack.spawn(WORKER)
        await asyncio.sleep(3)
        idle = rss_mib(worker.pid)
        print(f"worker RSS idle: {idle:.0f} MiB (sticky cache {cache} workflows)", flush=True)
        request_ids: list[int] = []
        opened = 0
        for step in steps:
            t0, cpu0 = time.perf_counter(), cpu_s(worker.pid)
            request_ids += await open_tenders(stack.client, stack.engine, step - opened, f"s{step}-")
            await until(lambda ids=list(request_ids), target=step: count(stack.engine, TenderStatus.SENT, ids)
                        == target, timeout=3600)
            took = time.perf_counter() - t0
            opened = step
            await asyncio.sleep(settle_s)
            rss = rss_mib(worker.pid)
            print(f"{step:6d} open tenders: worker RSS {rss:5.0f} MiB ({rss / idle:.2f}× idle), "
                  f"step took {took:.0f} s, worker CPU {cpu_s(worker.pid) - cpu0:.0f} s", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--steps", default="1000,5000,10000", help="comma-separated open-tender counts")
    parser.add_argument("--cache", type=int, default=100, help="WORKER_MAX_CACHED_WORKFLOWS for the worker")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of idling before each reading")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.steps.split(",")], args.cache, args.settle))
