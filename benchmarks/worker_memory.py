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
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.client import Client

from benchmarks.lifecycle import count, cpu_s, until
from benchmarks.send_to_sent import Sink, free_port, rss_mib, wait_port
from tenderdesk.config import ROOT
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.dev.devstack import temporal_dev_command
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
    tmp = Path(tempfile.mkdtemp(prefix="td-b4-"))
    t_port, smtp_port = free_port(), free_port()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    (tmp / "temporal").mkdir()
    server = subprocess.Popen(temporal_dev_command(var_dir=tmp, port=t_port, ui_port=free_port()),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=f"127.0.0.1:{t_port}",
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), STORAGE_DIR=str(tmp / "docs"),
               WORKER_MAX_CACHED_WORKFLOWS=str(cache))
    worker: subprocess.Popen[bytes] | None = None
    try:
        await wait_port(t_port)
        client = await Client.connect(f"127.0.0.1:{t_port}")
        worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(3)
        idle = rss_mib(worker.pid)
        print(f"worker RSS idle: {idle:.0f} MiB (sticky cache {cache} workflows)", flush=True)
        request_ids: list[int] = []
        opened = 0
        for step in steps:
            t0, cpu0 = time.perf_counter(), cpu_s(worker.pid)
            request_ids += await open_tenders(client, engine, step - opened, f"s{step}-")
            await until(lambda ids=list(request_ids), target=step: count(engine, TenderStatus.SENT, ids) == target,
                        timeout=3600)
            took = time.perf_counter() - t0
            opened = step
            await asyncio.sleep(settle_s)
            rss = rss_mib(worker.pid)
            print(f"{step:6d} open tenders: worker RSS {rss:5.0f} MiB ({rss / idle:.2f}× idle), "
                  f"step took {took:.0f} s, worker CPU {cpu_s(worker.pid) - cpu0:.0f} s", flush=True)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
        smtp.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--steps", default="1000,5000,10000", help="comma-separated open-tender counts")
    parser.add_argument("--cache", type=int, default=500, help="WORKER_MAX_CACHED_WORKFLOWS for the worker")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of idling before each reading")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.steps.split(",")], args.cache, args.settle))
