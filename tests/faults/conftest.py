"""Real processes for the fault tests: the worker as its own process (so it can
be killed), on the session's Temporal dev server or a server of the test's own,
a SQLite file both sides share, and the loopback SMTP capture. Every process a
fixture starts, it stops by its process id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from tenderdesk.config import ROOT, Settings
from tenderdesk.db.engine import make_engine, migrate

from ..conftest import SmtpServer, _settings

READY = "worker polling task queue"


@dataclass
class WorkerProcess:
    """``python worker.py`` with the given environment; its output goes to a file."""

    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    outputs: list[Path] = field(default_factory=list)

    def start(self, timeout: float = 30.0) -> None:
        self.runs += 1
        out = self.log_dir / f"worker-{self.runs}.log"
        self.outputs.append(out)
        with out.open("wb") as fh:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=self.env,
                                         stdout=fh, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while READY not in out.read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}: {out.read_text()[-2000:]}")
            if time.monotonic() > end:
                raise RuntimeError("worker did not start")
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code (killed after ``timeout``: a failure)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.outputs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@dataclass
class FaultStack:
    settings: Settings
    engine: Engine
    task_queue: str
    worker: WorkerProcess


def worker_env(settings: Settings, address: str, task_queue: str) -> dict[str, str]:
    return dict(
        os.environ, DATABASE_URL=settings.database_url, TEMPORAL_ADDRESS=address, TEMPORAL_TASK_QUEUE=task_queue,
        WORKFLOW_ID_PREFIX=task_queue, SMTP_HOST=settings.smtp_host, SMTP_PORT=str(settings.smtp_port),
        STORAGE_DIR=str(settings.storage_dir), BASE_URL=settings.base_url, SECRET_KEY=settings.secret_key,
        RECONCILE_EVERY_S="3600",
    )


def fault_stack(address: str, tmp_path: Path, smtp: SmtpServer) -> Iterator[FaultStack]:
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    migrate(url)
    settings = _settings(url, tmp_path, smtp)
    task_queue = f"fq-{uuid.uuid4().hex[:8]}"
    settings.temporal_task_queue = task_queue
    settings.workflow_id_prefix = task_queue
    engine = make_engine(url)
    worker = WorkerProcess(worker_env(settings, address, task_queue), tmp_path)
    try:
        yield FaultStack(settings, engine, task_queue, worker)
    finally:
        worker.stop()
        engine.dispose()


@pytest.fixture
def stack(dev_env: WorkflowEnvironment, tmp_path: Path, smtp_server: SmtpServer) -> Iterator[FaultStack]:
    """A worker process (not started yet) on the session's dev server."""
    yield from fault_stack(dev_env.client.service_client.config.target_host, tmp_path, smtp_server)
