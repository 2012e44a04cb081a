"""Benchmark: concurrent dashboard loads, quiet and while an upload streams.

Seeds a temporary SQLite database with ``tenderdesk.demo.seed.seed_demo`` (as
``benchmarks.dashboard`` does), serves the real app with uvicorn in a separate
process on 127.0.0.1 and a free port, and logs in a backoffice user with httpx.
Scenario A ("quiet") loads the dashboard (GET /) ``--concurrency`` times at
once, for ``--rounds`` rounds. Scenario B ("during upload") does the same while
another client streams a ``--upload-mib`` multipart message with a PDF
attachment to POST /requests/{id}/messages slowly (64 KiB chunks with short
pauses, uploads repeated until the rounds are done). Whether the upload is
finally accepted does not matter; it streams while the dashboard loads run.
Prints p50/p95/max per request in ms and the ratio p95(B) / p95(A): close to 1
means the loads do not queue behind the upload.

    .venv/bin/python -m benchmarks.concurrency [--rounds 10] [--concurrency 20] [--upload-mib 5]

No Temporal server is needed: the app connects lazily (here to a closed port).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from sqlmodel import Session, select

from benchmarks.dashboard import CSRF_RE, USER, login, percentile
from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.db.models import Request, User
from tenderdesk.demo.seed import seed_demo
from web.app import create_app

HOST = "127.0.0.1"
CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def make_settings(tmp: Path, port: int) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp / 'bench.db'}", storage_dir=tmp / "docs",
                    base_url=f"http://{HOST}:{port}", secret_key="bench",
                    temporal_address=f"{HOST}:{free_port()}", _env_file=None)  # type: ignore[call-arg]


def serve(tmp: Path, port: int) -> None:
    """The server process: the app on the seeded database, until SIGTERM."""
    settings = make_settings(tmp, port)
    app = create_app(settings, make_engine(settings.database_url))
    uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning")).run()


def prepare(tmp: Path, port: int, requests: int) -> int:
    """Migrate and seed; return a request id of the benchmark user's account."""
    settings = make_settings(tmp, port)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_demo(engine, settings, requests=requests)
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == USER)).one()
        request_id = s.exec(select(Request.id).where(Request.account_id == user.account_id)
                            .order_by(Request.id)).first()  # type: ignore[arg-type]
    engine.dispose()
    if request_id is None:
        raise SystemExit("the demo seed made no request for the benchmark user")
    return request_id


async def wait_until_up(base_url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            try:
                if (await client.get("/login")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server on {base_url} did not come up")
            await asyncio.sleep(0.1)


@dataclass
class Upload:
    """The streaming upload(s) of scenario B."""
    streaming: bool = False
    started: asyncio.Event = field(default_factory=asyncio.Event)
    done: int = 0
    statuses: list[str] = field(default_factory=list)
    stop: bool = False


def multipart(csrf: str, size: int, delay: float, upload: Upload) -> tuple[str, int, AsyncIterator[bytes]]:
    """A message form with a ``size``-byte PDF-ish file, as a slow async stream."""
    boundary = uuid.uuid4().hex
    fields = {"csrf_token": csrf, "action_id": uuid.uuid4().hex, "thread": "vermittler",
              "body": "Benchmark: Anhang während Dashboard-Last."}
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.pdf"\r\n'
         "Content-Type: application/pdf\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = (b"%PDF-1.4\n" + bytes(range(256)) * (CHUNK // 256))[:CHUNK]

    async def body() -> AsyncIterator[bytes]:
        yield head
        upload.streaming = True
        upload.started.set()
        sent = 0
        try:
            while sent < size:
                piece = block[: min(CHUNK, size - sent)]
                sent += len(piece)
                yield piece
                await asyncio.sleep(delay)
            yield tail
        finally:
            upload.streaming = False

    return f"multipart/form-data; boundary={boundary}", len(head) + size + len(tail), body()


async def keep_uploading(base_url: str, request_id: int, size: int, delay: float, upload: Upload) -> None:
    """Another logged-in client, streaming uploads back to back until told to stop."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        await login(client)
        page = await client.get(f"/requests/{request_id}")
        csrf = CSRF_RE.search(page.text)
        if page.status_code != 200 or csrf is None:
            raise SystemExit(f"request page {request_id}: {page.status_code}, no CSRF field")
        while not upload.stop:
            content_type, length, body = multipart(csrf.group(1), size, delay, upload)
            try:
                response = await client.post(f"/requests/{request_id}/messages", content=body,
                                             headers={"Content-Type": content_type, "Content-Length": str(length)})
                upload.statuses.append(str(response.status_code))
            except httpx.HTTPError as err:
                upload.statuses.append(type(err).__name__)
            upload.done += 1


@dataclass
class Sample:
    ms: float
    during_upload: bool


async def load_dashboards(client: httpx.AsyncClient, concurrency: int, rounds: int,
                          upload: Upload | None = None) -> list[Sample]:
    async def one() -> Sample:
        overlapped = upload is not None and upload.streaming
        started = time.perf_counter()
        response = await client.get("/")
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"dashboard answered {response.status_code}")
        return Sample(ms, overlapped and upload is not None and upload.streaming)

    samples: list[Sample] = []
    for _ in range(rounds):
        samples += await asyncio.gather(*(one() for _ in range(concurrency)))
    return samples


@dataclass
class Row:
    scenario: str
    samples: list[Sample]

    def ms(self) -> list[float]:
        return sorted(s.ms for s in self.samples)

    def p95(self) -> float:
        return percentile(self.ms(), 0.95)


async def run(base_url: str, request_id: int, args: argparse.Namespace) -> tuple[Row, Row, Upload]:
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        await login(client)
        await load_dashboards(client, args.concurrency, 2)  # warm-up
        quiet = Row("A quiet", await load_dashboards(client, args.concurrency, args.rounds))
        upload = Upload()
        uploader = asyncio.create_task(keep_uploading(base_url, request_id, int(args.upload_mib * 1024 * 1024),
                                                      args.chunk_delay, upload))
        await asyncio.wait([uploader, asyncio.create_task(upload.started.wait())],
                           return_when=asyncio.FIRST_COMPLETED)
        if uploader.done():
            uploader.result()
        await asyncio.sleep(0.2)  # the server is reading the body by now
        busy = Row("B during upload", await load_dashboards(client, args.concurrency, args.rounds, upload))
        upload.stop = True
        await uploader
    return quiet, busy, upload


def report(quiet: Row, busy: Row, upload: Upload, args: argparse.Namespace) -> None:
    overlapped = sum(s.during_upload for s in busy.samples)
    print(f"\n{args.concurrency} concurrent GET / x {args.rounds} rounds; upload {args.upload_mib:g} MiB in "
          f"{CHUNK // 1024} KiB chunks, {args.chunk_delay * 1000:g} ms apart")
    print(f"{'scenario':18} {'requests':>8} {'p50':>8} {'p95':>8} {'max':>8}  (ms)")
    for row in (quiet, busy):
        ms = row.ms()
        print(f"{row.scenario:18} {len(ms):8d} {statistics.median(ms):8.1f} {row.p95():8.1f} {ms[-1]:8.1f}")
    print(f"ratio p95(B) / p95(A): {busy.p95() / quiet.p95():.2f}x")
    print(f"B: {overlapped} of {len(busy.samples)} loads started and ended while the upload streamed; "
          f"uploads: {upload.done} (answers: {', '.join(upload.statuses) or 'none'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--upload-mib", type=float, default=5.0)
    parser.add_argument("--chunk-delay", type=float, default=0.02, help="seconds between upload chunks")
    parser.add_argument("--requests", type=int, default=1000, help="demo requests to seed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="td-bench-conc-") as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        started = time.perf_counter()
        request_id = prepare(tmp, port, args.requests)
        print(f"seeded {args.requests} requests in {time.perf_counter() - started:.1f} s; "
              f"upload to request {request_id}")
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(tmp, port), daemon=True)
        server.start()
        try:
            base_url = f"http://{HOST}:{port}"
            asyncio.run(wait_until_up(base_url))
            quiet, busy, upload = asyncio.run(run(base_url, request_id, args))
        finally:
            server.terminate()
            server.join(10)
            if server.is_alive():
                server.kill()
                server.join()
    report(quiet, busy, upload, args)


if __name__ == "__main__":
    main()
