"""The real stack the benchmarks measure, started on loopback in a temporary folder.

A Temporal dev server (tuned as in ``make run``), an SMTP sink that accepts
every mail, a fresh SQLite database, and the processes a benchmark spawns
(the worker, a bare worker) with the environment pointing at all of them. Every
process is stopped by its process when the block ends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from temporalio.client import Client

from tenderdesk.config import ROOT
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.dev.devstack import temporal_dev_command

WORKER = [sys.executable, str(ROOT / "worker.py")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
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


@dataclass
class Stack:
    tmp: Path
    engine: Engine
    client: Client
    server: subprocess.Popen[bytes]
    env: dict[str, str]
    spawned: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.spawned.append(proc)
        return proc


@asynccontextmanager
async def local_stack(prefix: str, **env: str) -> AsyncIterator[Stack]:
    """The stack; ``env`` adds settings for the spawned processes (e.g. ``WORKER_MAX_CACHED_WORKFLOWS``)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    t_port, smtp_port = free_port(), free_port()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    (tmp / "temporal").mkdir()
    server = subprocess.Popen(temporal_dev_command(var_dir=tmp, port=t_port, ui_port=free_port()),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    environ = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=f"127.0.0.1:{t_port}", SMTP_HOST="127.0.0.1",
                   SMTP_PORT=str(smtp_port), STORAGE_DIR=str(tmp / "docs"), RECONCILE_EVERY_S="3600", **env)
    stack: Stack | None = None
    try:
        await wait_port(t_port)
        stack = Stack(tmp, engine, await Client.connect(f"127.0.0.1:{t_port}"), server, environ)
        yield stack
    finally:
        for proc in stack.spawned if stack else []:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        server.terminate()
        server.wait(timeout=30)
        smtp.stop()
        engine.dispose()


__all__ = ["WORKER", "Sink", "Stack", "free_port", "local_stack", "rss_mib", "wait_port"]
