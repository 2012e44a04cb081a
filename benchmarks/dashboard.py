"""Benchmark: the dashboard "Manuelle Anfragen" at 10,000 open requests.

Seeds a temporary SQLite database (and, with ``--pg``, a throwaway PostgreSQL
database on 127.0.0.1:5432, user ``postgres``, dropped afterwards) with
``tenderdesk.demo.seed.seed_demo``, adds tenders in every state to a few thousand
requests directly in the database (offers for the offered ones, chat messages
for some), and measures the real app in-process over HTTP
(``httpx.ASGITransport``, logged in as a backoffice user): the default page,
sorting, search, filters, each tab, pages 1 and 100, and the live-update
marker poll. Each scenario runs ``--runs`` times after a warm-up; it prints
p50/p95/max wall time in ms, the ratio to the same scenario with 30 requests,
and the p50 CPU time of this process (for SQLite the whole cost, and steady
even when other programs load the machine; for PostgreSQL without the
server's share).

    .venv/bin/python -m benchmarks.dashboard [--requests 10000] [--runs 50] [--pg] [--explain]

``--explain`` prints the query plan of every statement the default page,
the Bearbeiter sort and the broker-action tab run (SQLite ``EXPLAIN QUERY
PLAN``; PostgreSQL ``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate
from tenderdesk.db.models import (
    Insurer,
    Message,
    MessageRead,
    Offer,
    Party,
    Product,
    Request,
    Tender,
    Thread,
    ThreadKind,
    User,
)
from tenderdesk.demo.seed import DEMO_PASSWORD, MAIN_ACCOUNT_NAME, seed_demo
from tenderdesk.states import TenderStatus
from web.app import create_app
from web.live.markers import LiveStreams, Viewer, dashboard_values

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
USER = "anna.berger@tenderdesk.example"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
S = TenderStatus
#: How often each status occurs among the added tenders (roughly a live pool).
STATUS_WEIGHTS = {
    S.QUEUED: 2, S.SENT: 20, S.IN_PROGRESS: 8, S.OFFERED: 25, S.DECLINED: 15,
    S.WITHDRAWN: 5, S.EXPIRED: 8, S.OFFER_EXPIRED: 7, S.CLOSED: 1,
}


@dataclass
class Database:
    label: str
    url: str
    cleanup: Callable[[], None]


@contextmanager
def sqlite_database(tmp: Path, n: int) -> Iterator[Database]:
    yield Database("SQLite", f"sqlite:///{tmp / f'bench-{n}.db'}", lambda: None)


@contextmanager
def pg_database(n: int) -> Iterator[Database]:
    name = f"td_bench_{n}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database("PostgreSQL", PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", lambda: None)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def add_activity(engine: Engine, *, share: float = 0.3, seed: int = 7) -> dict[str, int]:
    """Tenders (1-5 per request) for ``share`` of the main account's requests, an
    active offer for each offered/expired-offer tender, and chat messages on
    a tenth of them, some already read by the benchmark user."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == USER)).one()
        request_ids = list(s.exec(select(Request.id).where(Request.account_id == user.account_id)).all())
        insurer_ids = list(s.exec(select(Insurer.id)).all())
    chosen = rng.sample(request_ids, int(len(request_ids) * share))
    tenders: list[dict[str, Any]] = []
    for rid in chosen:
        for iid in rng.sample(insurer_ids, rng.randint(1, min(5, len(insurer_ids)))):
            tenders.append(dict(
                request_id=rid, insurer_id=iid, contact_email="ausschreibung@versicherer.example",
                workflow_id=f"bench-r{rid}-i{iid}", status=rng.choices(statuses, weights)[0],
                created_at=now - timedelta(days=rng.uniform(0, 20)), updated_at=now - timedelta(days=rng.uniform(0, 5)),
                document_ids=[],
            ))
    with engine.begin() as conn:
        conn.execute(insert(Tender), tenders)
    with Session(engine) as s:
        rows = s.exec(select(Tender.id, Tender.request_id, Tender.status)).all()
    offers = [
        dict(tender_id=tid, request_id=rid, action_id=f"bench-offer-{tid}", premium_cents=rng.randint(50_000, 900_000),
             valid_until=now + timedelta(days=30), submitted_by=Party.INSURER, active=True,
             released_at=now if rng.random() < 0.5 else None, created_at=now)
        for tid, rid, status in rows if status in (S.OFFERED, S.OFFER_EXPIRED)
    ]
    with engine.begin() as conn:
        if offers:
            conn.execute(insert(Offer), offers)
    talk = [(tid, rid) for tid, rid, _ in rows if rng.random() < 0.1]
    threads = [dict(request_id=rid, kind=ThreadKind.INSURER, tender_id=tid, created_at=now) for tid, rid in talk]
    with engine.begin() as conn:
        if threads:
            conn.execute(insert(Thread), threads)
    with Session(engine) as s:
        thread_rows = s.exec(select(Thread.id, Thread.request_id)).all()
    messages = []
    for thread_id, rid in thread_rows:
        for k in range(rng.randint(1, 4)):
            messages.append(dict(
                thread_id=thread_id, request_id=rid, action_id=f"bench-msg-{thread_id}-{k}",
                author=rng.choice([Party.INSURER, Party.BACKOFFICE]), body="Rückfrage zur Schadenhistorie.",
                visible=True, unprocessed=rng.random() < 0.5, created_at=now - timedelta(hours=rng.uniform(0, 200)),
            ))
    with engine.begin() as conn:
        if messages:
            conn.execute(insert(Message), messages)
    with Session(engine) as s:
        message_ids = list(s.exec(select(Message.id)).all())
    reads = [dict(message_id=mid, user_id=user.id, read_at=now) for mid in message_ids if rng.random() < 0.4]
    with engine.begin() as conn:
        if reads:
            conn.execute(insert(MessageRead), reads)
    return {"tenders": len(tenders), "offers": len(offers), "messages": len(messages), "reads": len(reads)}


def scenarios(engine: Engine) -> dict[str, str]:
    with Session(engine) as s:
        product = s.exec(select(Product).where(Product.code == "BHV")).first() or s.exec(select(Product)).first()
        assert product is not None
    return {
        "default (Datum ↓)": "/",
        "default" + COLD: "/",
        "page 1 (explicit)": "/?tab=alle&sort=datum&dir=desc&page=1",
        "page 100": "/?tab=alle&sort=datum&dir=desc&page=100",
        "sort Bearbeiter ↑": "/?tab=alle&sort=bearbeiter&dir=asc",
        "sort Bearbeiter p100": "/?tab=alle&sort=bearbeiter&dir=asc&page=100",
        "sort Vermittler ↓": "/?tab=alle&sort=vermittler&dir=desc",
        "sort Status ↓": "/?tab=alle&sort=status&dir=desc",
        "search 'meier'": "/?tab=alle&q=meier",
        "search number": "/?tab=alle&q=00042",
        "filter Bearbeiter=none+Produkt": f"/?tab=alle&bearbeiter=none&produkt={product.id}",
        "filter Status=offered": "/?tab=alle&status=offered",
        "tab Vermittleraktion": "/?tab=vermittleraktion",
        "tab Nachrichten": "/?tab=nachrichten",
        "tab Nachrichten me+unbearb.": "/?tab=nachrichten&bearbeiter=me&unbearbeitet=1",
    }


#: Scenario suffix: measured with the live marker cache emptied before each request.
COLD = ", marker not cached"


def streams_of_app(app: Any) -> LiveStreams:
    streams = getattr(app.state, "live", None)
    if not isinstance(streams, LiveStreams):
        streams = LiveStreams()
        app.state.live = streams
    return streams


@dataclass
class Timing:
    p50: float
    p95: float
    max: float
    #: This process's CPU time (all threads), p50: for SQLite that includes the
    #: database work, and unlike wall time it hardly moves when other programs
    #: compete for the machine.
    cpu_p50: float


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(samples: list[tuple[float, float]]) -> Timing:
    wall = sorted(w for w, _ in samples)
    cpu = sorted(c for _, c in samples)
    return Timing(statistics.median(wall), percentile(wall, 0.95), wall[-1], statistics.median(cpu))


@contextmanager
def clock(samples: list[tuple[float, float]]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    samples.append(((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000))


async def login(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    csrf = CSRF_RE.search(page.text)
    assert csrf, "no CSRF field on the login page"
    response = await client.post("/login", data={"email": USER, "password": DEMO_PASSWORD,
                                                 "csrf_token": csrf.group(1), "next": "/"})
    assert response.status_code == 303, response.text


async def measure(engine: Engine, settings: Settings, runs: int) -> dict[str, Timing]:
    app = create_app(settings, engine)
    results: dict[str, Timing] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        await login(client)
        for name, path in scenarios(engine).items():
            cold = name.endswith(COLD)
            for _ in range(3):
                assert (await client.get(path)).status_code == 200, path
            samples: list[tuple[float, float]] = []
            for _ in range(runs):
                if cold:  # no stream has computed the live marker recently
                    streams_of_app(app).forget()
                with clock(samples):
                    response = await client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            results[name] = summarise(samples)
    # The live stream's poll (every 1.5 s per open dashboard), without HTTP.
    with Session(engine) as s:
        user = s.exec(select(User).where(User.email == USER)).one()
        viewer = Viewer(user.id, 0, user.account_id, True, None)  # type: ignore[arg-type]
        for _ in range(3):
            dashboard_values(s, viewer)
        samples = []
        for _ in range(runs):
            with clock(samples):
                dashboard_values(s, viewer)
        results["live marker, computed (poll)"] = summarise(samples)
    return results


def explain(engine: Engine, settings: Settings, paths: list[str]) -> None:
    """Print the plan of every statement these pages run."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    async def load() -> None:
        app = create_app(settings, engine)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await login(client)
            for path in paths:
                captured.clear()
                event.listen(engine, "before_cursor_execute", capture)
                try:
                    await client.get(path)
                finally:
                    event.remove(engine, "before_cursor_execute", capture)
                print(f"\n=== {path}")
                for statement, parameters in list(captured):
                    if "usersession" in statement or "FROM account" in statement:
                        continue
                    sqlite = engine.dialect.name == "sqlite"
                    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
                    raw = engine.raw_connection()
                    try:
                        cursor = raw.cursor()
                        cursor.execute(prefix + statement, parameters)
                        plan = cursor.fetchall()
                    finally:
                        raw.close()
                    print("--- " + " ".join(statement.split())[:160])
                    for row in plan:
                        print("    " + str(row[-1] if sqlite else row[0]))

    asyncio.run(load())


def run_backend(make: Callable[[int], Any], sizes: list[int], runs: int, tmp: Path, do_explain: bool) -> None:
    results: dict[int, dict[str, Timing]] = {}
    label = ""
    for n in sizes:
        with make(n) as db:
            label = db.label
            settings = Settings(database_url=db.url, storage_dir=tmp / f"docs-{label}-{n}", base_url="http://bench",
                                secret_key="bench", _env_file=None)  # type: ignore[call-arg]
            migrate(db.url)
            engine = make_engine(db.url)
            started = time.perf_counter()
            seed_demo(engine, settings, requests=n)
            extra = add_activity(engine)
            # Steady state: statistics collected, visibility map set (autovacuum would do both).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
            seconds = time.perf_counter() - started
            print(f"{label}: seeded {n} requests of {MAIN_ACCOUNT_NAME} + {extra} in {seconds:.1f} s")
            results[n] = asyncio.run(measure(engine, settings, runs))
            if do_explain and n == max(sizes):
                explain(engine, settings, ["/", "/?tab=alle&sort=bearbeiter&dir=asc&page=100", "/?tab=vermittleraktion",
                                           "/?tab=alle&q=meier&status=offered"])
            engine.dispose()
    base, big = min(sizes), max(sizes)
    print(f"\n{label}: {runs} runs each, ms (ratio = {big} requests / {base} requests)")
    small_head = f"{'p50 ' + str(base):>9} {'p95 ' + str(base):>9}"
    print(f"{'scenario':32} {'p50':>8} {'p95':>8} {'max':>8}   {small_head}  ratio p95   cpu p50 ({big} / {base})")
    for name, timing in results[big].items():
        small = results[base][name]
        print(f"{name:32} {timing.p50:8.1f} {timing.p95:8.1f} {timing.max:8.1f}   {small.p50:9.1f} {small.p95:9.1f}"
              f"  {timing.p95 / small.p95:6.2f}x   {timing.cpu_p50:7.1f} / {small.cpu_p50:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=30)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pg", action="store_true", help="also on a throwaway PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print query plans at the larger size")
    args = parser.parse_args()
    sizes = [args.baseline, args.requests]
    with tempfile.TemporaryDirectory(prefix="td-bench-dash-") as tmpdir:
        tmp = Path(tmpdir)
        if not args.no_sqlite:
            run_backend(lambda n: sqlite_database(tmp, n), sizes, args.runs, tmp, args.explain)
        if args.pg:
            run_backend(pg_database, sizes, args.runs, tmp, args.explain)


if __name__ == "__main__":
    main()
