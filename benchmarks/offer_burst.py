"""Benchmark: N insurers post offers at the same moment while backoffice logs in.

Starts everything real on loopback in a temporary folder: the Temporal dev
server, an aiosmtpd sink, SQLite (or, with ``--pg``, a throwaway PostgreSQL
database), the worker and the web app (uvicorn) as separate processes. It
tenders one request to ``--insurers`` insurers, takes each insurer's link from
the captured tender email, and then, at one moment, posts one offer (with a PDF)
on every link while ``--logins`` backoffice logins run alongside. Prints the
status of every answer, p50/p95/max for offers and logins, and the ratio of the
login p95 under the burst to a quiet login.

    .venv/bin/python -m benchmarks.offer_burst [--insurers 50] [--logins 20] [--pg]

Before the fix of issue 8 (defect 8) 16–20 offers took 30 s each, some
answered 500 (``QueuePool limit … reached``) and logins stalled for 30 s.
:func:`burst` is also what ``tests/web/test_offer_burst.py`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import math
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from fpdf import FPDF
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.client import Client

from benchmarks.stack import free_port, wait_port
from tenderdesk.config import ROOT
from tenderdesk.db.engine import make_engine, migrate, session_scope
from tenderdesk.db.models import Tender, User, utcnow
from tenderdesk.dev.devstack import temporal_dev_command
from tenderdesk.security.passwords import hash_password
from tenderdesk.states import TenderStatus
from web.tenders.start import start_tenders

LINK_RE = re.compile(r"(https?://[^\s/]+/t/[A-Za-z0-9_-]{40,})")
FORM_RE = re.compile(r"<form\b[^>]*\baction=\"(?P<action>[^\"]+)\"[^>]*>(?P<body>.*?)</form>", re.S)
HIDDEN_RE = re.compile(r"<input type=\"hidden\" name=\"(?P<name>[^\"]+)\" value=\"(?P<value>[^\"]*)\"")
PASSWORD = "Burst-Passwort-2026!"


def sample_pdf(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=text)
    return bytes(pdf.output())


def hidden_fields(html: str, action_suffix: str, **match: str) -> dict[str, str]:
    """The hidden fields of the one form posting to ``…action_suffix`` whose fields include ``match``."""
    for form in FORM_RE.finditer(html):
        if not form["action"].endswith(action_suffix):
            continue
        fields = {m["name"]: m["value"] for m in HIDDEN_RE.finditer(form["body"])}
        if all(fields.get(k) == v for k, v in match.items()):
            return fields
    raise AssertionError(f"no form posting to {action_suffix} with {match}")


def percentile(values: list[float], share: float) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(share * len(ranked)) - 1)]


@dataclass
class BurstResult:
    offer_status: list[int] = field(default_factory=list)
    offer_s: list[float] = field(default_factory=list)
    login_status: list[int] = field(default_factory=list)
    login_s: list[float] = field(default_factory=list)
    #: Each logged-in user then loads the dashboard and the request page.
    page_status: list[int] = field(default_factory=list)
    page_s: list[float] = field(default_factory=list)
    quiet_login_s: float = 0.0
    wall_s: float = 0.0

    def summary(self) -> str:
        def stats(values: list[float]) -> str:
            return (f"p50 {statistics.median(values) * 1000:.0f} ms, p95 {percentile(values, 0.95) * 1000:.0f} ms, "
                    f"max {max(values) * 1000:.0f} ms")

        codes = {code: self.offer_status.count(code) for code in sorted(set(self.offer_status))}
        login_codes = {code: self.login_status.count(code) for code in sorted(set(self.login_status))}
        lines = [
            f"{len(self.offer_status)} offers at once: status {codes}; {stats(self.offer_s)}; "
            f"all done after {self.wall_s:.2f} s",
            f"{len(self.login_status)} logins meanwhile: status {login_codes}; {stats(self.login_s)}",
            *([f"{len(self.page_status)} page loads by them (dashboard, request page): status "
               f"{ {c: self.page_status.count(c) for c in sorted(set(self.page_status))} }; {stats(self.page_s)}"]
              if self.page_s else []),
            f"quiet login {self.quiet_login_s * 1000:.0f} ms; login p95 under the burst / quiet: "
            f"{percentile(self.login_s, 0.95) / self.quiet_login_s:.1f}x",
        ]
        return "\n".join(lines)


async def _log_in(base_url: str, email: str, password: str, pages: tuple[str, ...] = (),
                  ) -> tuple[int, float, list[tuple[int, float]]]:
    """The login's status and time, then each of ``pages`` loaded as that user."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        page = await client.get("/login")
        fields = hidden_fields(page.text, "/login")
        started = time.perf_counter()
        answer = await client.post("/login", data={**fields, "email": email, "password": password, "next": "/"})
        took = time.perf_counter() - started
        loads = []
        for path in pages:
            begun = time.perf_counter()
            loaded = await client.get(path)
            loads.append((loaded.status_code, time.perf_counter() - begun))
        return answer.status_code, took, loads


async def _offer(base_url: str, link: str, pdf: bytes, barrier: asyncio.Event) -> tuple[int, float]:
    path = httpx.URL(link).path
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        page = await client.get(path)
        if page.status_code != 200:
            return page.status_code, 0.0
        fields = hidden_fields(page.text, "/offer", mode="new")
        valid_until = (utcnow() + timedelta(days=60)).strftime("%d.%m.%Y")
        await barrier.wait()
        started = time.perf_counter()
        answer = await client.post(
            f"{path}/offer",
            data={**fields, "premium": "2.345,67", "valid_until": valid_until},
            files={"file": ("angebot.pdf", pdf, "application/pdf")},
        )
        return answer.status_code, time.perf_counter() - started


async def burst(base_url: str, links: list[str], *, emails: list[str], password: str = PASSWORD,
                pages: tuple[str, ...] = ()) -> BurstResult:
    """One offer per link, all released at one moment, and one login per address
    in ``emails`` (the first before the burst, as the quiet reference), spread
    over it; each of those users then loads ``pages``."""
    result = BurstResult()
    _, result.quiet_login_s, _ = await _log_in(base_url, emails[0], password)
    pdf = sample_pdf("Angebot Betriebshaftpflicht")
    barrier = asyncio.Event()
    offers = [asyncio.create_task(_offer(base_url, link, pdf, barrier)) for link in links]
    await asyncio.sleep(0.5 + 0.02 * len(links))  # every insurer has its page and form
    started = time.perf_counter()
    barrier.set()

    # The logins run in a process of their own: measured in this one, they would
    # wait for this event loop, busy sending 50 uploads, not for the server.
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    logins = asyncio.get_running_loop().run_in_executor(pool, _timed_logins, base_url, emails[1:], password, 0.05,
                                                        pages)
    for status, seconds in await asyncio.gather(*offers):
        result.offer_status.append(status)
        result.offer_s.append(seconds)
    result.wall_s = time.perf_counter() - started
    for status, seconds, loads in await logins:
        result.login_status.append(status)
        result.login_s.append(seconds)
        for page_status, page_seconds in loads:
            result.page_status.append(page_status)
            result.page_s.append(page_seconds)
    pool.shutdown()
    return result


def _timed_logins(base_url: str, emails: list[str], password: str, gap: float, pages: tuple[str, ...] = (),
                  ) -> list[tuple[int, float, list[tuple[int, float]]]]:
    """One login per address, ``gap`` seconds apart, each in its own task (runs in a child process)."""

    async def run() -> list[tuple[int, float, list[tuple[int, float]]]]:
        async def later(delay: float, email: str) -> tuple[int, float, list[tuple[int, float]]]:
            await asyncio.sleep(delay)
            return await _log_in(base_url, email, password, pages)

        return list(await asyncio.gather(*(later(gap * i, e) for i, e in enumerate(emails))))

    return asyncio.run(run())


def links_in(messages: list[EmailMessage]) -> dict[str, str]:
    """Recipient → the insurer link in the tender email to it."""
    found: dict[str, str] = {}
    for message in messages:
        body = message.get_body(preferencelist=("plain",))
        if body is None:
            continue
        match = LINK_RE.search(str(body.get_content()))
        if match:
            found[str(message["To"])] = match.group(1)
    return found


def login_users(engine: Engine, user_id: int, n: int, password: str = PASSWORD) -> list[str]:
    """``n`` backoffice colleagues of ``user_id`` with ``password``: one login each,
    as in an office at nine, so the per-account throttle stays out of the figures."""
    hashed = hash_password(password)
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        assert user is not None
        colleagues = [
            User(account_id=user.account_id, email=f"kollege{i}.{user.id}@burst.example", name=f"Kollege {i}",
                 role=user.role, password_hash=hashed)
            for i in range(n)
        ]
        s.add_all(colleagues)
        return [c.email for c in colleagues]


def sent_count(engine: Engine, request_id: int) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Tender).where(Tender.request_id == request_id)
                          .where(col(Tender.status) == TenderStatus.SENT)).one())


def web_env(*, database_url: str, temporal_address: str, task_queue: str, id_prefix: str, smtp_port: int,
            storage_dir: Path, base_url: str, secret_key: str) -> dict[str, str]:
    return dict(
        os.environ, DATABASE_URL=database_url, TEMPORAL_ADDRESS=temporal_address, TEMPORAL_TASK_QUEUE=task_queue,
        WORKFLOW_ID_PREFIX=id_prefix, SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port),
        STORAGE_DIR=str(storage_dir), BASE_URL=base_url, SECRET_KEY=secret_key,
    )


@contextmanager
def web_process(port: int, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The web app under uvicorn on 127.0.0.1:``port``, stopped by its process id."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--timeout-graceful-shutdown", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            end = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"web exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
                try:
                    httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > end:
                        raise RuntimeError("web did not start") from None
                    time.sleep(0.1)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------- the benchmark's own stack


class _Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        data = envelope.content  # type: ignore[attr-defined]
        message = message_from_bytes(data if isinstance(data, bytes) else data.encode(), policy=default_policy)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def _pg_url(tmp: Path) -> str:
    name = f"td_burst_{os.getpid()}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
                   check=True, capture_output=True)
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


async def main(insurers: int, logins: int, pg: bool) -> None:
    from tests.factories import make_world

    tmp = Path(tempfile.mkdtemp(prefix="td-burst-"))
    db_url = _pg_url(tmp) if pg else f"sqlite:///{tmp / 'burst.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    sink = _Sink()
    smtp_port, t_port, web_port = free_port(), free_port(), free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)  # type: ignore[arg-type]
    smtp.start()
    (tmp / "temporal").mkdir()
    server = subprocess.Popen(temporal_dev_command(var_dir=tmp, port=t_port, ui_port=free_port()),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{web_port}"
    env = web_env(database_url=db_url, temporal_address=f"127.0.0.1:{t_port}", task_queue="tenders",
                  id_prefix="tender", smtp_port=smtp_port, storage_dir=tmp / "docs", base_url=base_url,
                  secret_key="benchmark-secret-key-0123456789")
    worker: subprocess.Popen[bytes] | None = None
    try:
        await wait_port(t_port)
        client = await Client.connect(f"127.0.0.1:{t_port}")
        worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        world = make_world(engine, insurers=insurers, tag="burst")
        emails = login_users(engine, world.backoffice_user_id, logins + 1)
        with web_process(web_port, env, tmp / "web.log"):
            outcome = await start_tenders(client=client, engine=engine, task_queue="tenders",
                                          request_id=world.request_id, insurer_ids=world.insurer_ids,
                                          actor_user_id=None, id_prefix="tender")
            assert len(outcome.started) == insurers, outcome.refused
            end = time.monotonic() + 120
            while sent_count(engine, world.request_id) < insurers:
                if time.monotonic() > end:
                    raise RuntimeError("tenders did not reach sent")
                await asyncio.sleep(0.1)
            links = list(links_in(sink.messages).values())
            assert len(links) == insurers, len(links)
            result = await burst(base_url, links, emails=emails, pages=("/", f"/requests/{world.request_id}"))
        print(f"database: {'PostgreSQL' if pg else 'SQLite'}; {os.cpu_count()} cores")
        print(result.summary())
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        server.terminate()
        server.wait(timeout=20)
        smtp.stop()
        engine.dispose()
        if pg:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c",
                            f"DROP DATABASE IF EXISTS td_burst_{os.getpid()}"], capture_output=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--insurers", type=int, default=50)
    parser.add_argument("--logins", type=int, default=50, help="backoffice users logging in and loading pages")
    parser.add_argument("--pg", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.insurers, args.logins, args.pg))
