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
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlmodel import Session, col, func, select
from temporalio.client import Client

from tenderdesk.config import ROOT
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.db.models import Tender
from tenderdesk.dev.devstack import temporal_dev_command
from tenderdesk.states import TenderStatus
from tests.factories import make_world
from web.tenders.start import start_tenders


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_port(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")


async def main(insurers: int, rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="td-bench-"))
    t_port, smtp_port = free_port(), free_port()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    (tmp / "temporal").mkdir()
    argv = temporal_dev_command(var_dir=tmp, port=t_port, ui_port=free_port())
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=f"127.0.0.1:{t_port}",
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), STORAGE_DIR=str(tmp / "docs"))
    worker: subprocess.Popen[bytes] | None = None
    try:
        await wait_port(t_port)
        client = await Client.connect(f"127.0.0.1:{t_port}")
        worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await asyncio.sleep(2)
        rss_idle = rss_mib(worker.pid)
        latencies: list[float] = []
        for r in range(rounds):
            world = make_world(engine, insurers=insurers, tag=f"b{r}")
            t0 = time.perf_counter()
            outcome = await start_tenders(client=client, engine=engine, task_queue="tenders",
                                          request_id=world.request_id, insurer_ids=world.insurer_ids,
                                          actor_user_id=None, id_prefix=f"bench{os.getpid()}")
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
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        server.terminate()
        server.wait(timeout=20)
        smtp.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--insurers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.insurers, args.rounds))
