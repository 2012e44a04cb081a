"""B1: tender lifecycles per second beside a bare Temporal workflow, same run.

A lifecycle is what a tender costs from "send" to "offered": start the
workflow (with its row), the tender email accepted by SMTP, the insurer's offer
as a workflow update, the projection "offered". The yardstick is
``benchmarks.bare``: one activity and one update on the same dev server. Both
run ``--n`` lifecycles concurrently, alternated ``--rounds`` times; printed are
lifecycles/s, CPU ms per lifecycle per process (from /proc: dev server,
worker, this driver standing in for the web), history events per workflow,
and the median ratio product/bare. Nothing is asserted.

    .venv/bin/python -m benchmarks.lifecycle [--n 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select
from temporalio.client import Client

from benchmarks.bare import TASK_QUEUE as BARE_QUEUE
from benchmarks.stack import WORKER, local_stack
from tenderdesk.db.models import Party, Tender, utcnow
from tenderdesk.states import TenderStatus
from tests.factories import make_world
from web.tenders.service import OfferTerms, submit_offer
from web.tenders.start import start_tenders

PER_REQUEST = 10
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def count(engine: object, status: TenderStatus, request_ids: list[int]) -> int:
    with Session(engine) as s:  # type: ignore[arg-type]
        return int(s.exec(select(func.count()).select_from(Tender).where(col(Tender.request_id).in_(request_ids))
                          .where(col(Tender.status) == status)).one())


async def until(check: object, timeout: float = 300) -> None:
    end = time.perf_counter() + timeout
    while not check():  # type: ignore[operator]
        if time.perf_counter() > end:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.01)


async def product_round(client: Client, engine: object, n: int, tag: str) -> tuple[float, list[str]]:
    worlds = [make_world(engine, insurers=PER_REQUEST, tag=f"{tag}{i}") for i in range(n // PER_REQUEST)]  # type: ignore[arg-type]
    ids = [w.request_id for w in worlds]
    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(start_tenders(
        client=client, engine=engine, task_queue="tenders", request_id=w.request_id,  # type: ignore[arg-type]
        insurer_ids=w.insurer_ids, actor_user_id=None, id_prefix="tender") for w in worlds))
    tenders = [t for o in outcomes for t in o.started]
    await until(lambda: count(engine, TenderStatus.SENT, ids) == n)
    valid = utcnow() + timedelta(days=30)
    gate = asyncio.Semaphore(50)

    async def offer(tender: Tender) -> None:
        async with gate:
            await submit_offer(client, engine, tender, OfferTerms(premium_cents=100_000, valid_until=valid),  # type: ignore[arg-type]
                               by=Party.INSURER)

    await asyncio.gather(*(offer(t) for t in tenders))
    await until(lambda: count(engine, TenderStatus.OFFERED, ids) == n)
    return time.perf_counter() - t0, [t.workflow_id for t in tenders]


async def bare_round(client: Client, n: int) -> tuple[float, list[str]]:
    ids = [f"bare-{uuid.uuid4().hex[:12]}" for _ in range(n)]
    t0 = time.perf_counter()
    handles = await asyncio.gather(*(client.start_workflow("BareWorkflow", i, id=wid, task_queue=BARE_QUEUE)
                                     for i, wid in enumerate(ids)))
    await asyncio.gather(*(h.execute_update("offer", 100_000, result_type=str) for h in handles))
    await asyncio.gather(*(h.result() for h in handles))
    return time.perf_counter() - t0, ids


async def events(client: Client, workflow_id: str) -> int:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return len(history.events)


async def main(n: int, rounds: int) -> None:
    async with local_stack("td-b1-") as stack:
        client, engine, server = stack.client, stack.engine, stack.server
        worker = stack.spawn(WORKER)
        bare = stack.spawn([sys.executable, "-m", "benchmarks.bare"])
        await asyncio.sleep(3)
        await product_round(client, engine, PER_REQUEST, "warm")  # warm-up, not counted
        await bare_round(client, PER_REQUEST)
        ratios, rows = [], []
        for r in range(rounds):
            for kind in ("product", "bare"):
                pids = {"server": server.pid, "worker": (worker if kind == "product" else bare).pid,
                        "driver": os.getpid()}
                before = {k: cpu_s(p) for k, p in pids.items()}
                if kind == "product":
                    took, wids = await product_round(client, engine, n, f"r{r}-")
                else:
                    took, wids = await bare_round(client, n)
                cpu = {k: (cpu_s(p) - before[k]) / n * 1000 for k, p in pids.items()}
                rows.append((r + 1, kind, n / took, cpu, await events(client, wids[0])))
                print(f"round {r + 1} {kind:7s}: {n / took:6.1f} lifecycles/s; CPU per lifecycle "
                      f"server {cpu['server']:.0f} ms, worker {cpu['worker']:.0f} ms, "
                      f"driver/web {cpu['driver']:.0f} ms = {sum(cpu.values()):.0f} ms; "
                      f"{rows[-1][4]} history events", flush=True)
            ratios.append(rows[-2][2] / rows[-1][2])
        product = [row for row in rows if row[1] == "product"]
        bare_rows = [row for row in rows if row[1] == "bare"]
        print()
        print(f"B1 median: product {statistics.median(r[2] for r in product):.1f}/s, "
              f"bare {statistics.median(r[2] for r in bare_rows):.1f}/s, ratio {statistics.median(ratios):.2f}x; "
              f"CPU per lifecycle product {statistics.median(sum(r[3].values()) for r in product):.0f} ms, "
              f"bare {statistics.median(sum(r[3].values()) for r in bare_rows):.0f} ms; "
              f"events product {product[-1][4]}, bare {bare_rows[-1][4]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="lifecycles per round (a multiple of 10)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds))
