"""Scale-out (issue 9): two worker processes and two web processes at once, on
one Temporal dev server and one PostgreSQL database. 200 tenders are started
through the web's HTTP "send" and every insurer posts its offer through its
link, each to either web process (and the same form once more to the other,
as a double click across a load balancer would). Nothing is processed twice
and nothing is missed: one tender email per tender (by Message-ID), one offer
per tender, and each audit event exactly once per tender."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections import Counter
from pathlib import Path

import httpx
from sqlmodel import Session, col, func, select
from temporalio.testing import WorkflowEnvironment

from benchmarks.offer_burst import LINK_RE, hidden_fields, sample_pdf, web_env, web_process
from tenderdesk.db.engine import make_engine
from tenderdesk.db.models import AuditEvent, Offer, Request, SystemEmail, Tender, utcnow
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus

from ..conftest import SmtpServer, _settings, _truncate_all, eventually, free_port
from ..web.conftest import MAIN_BACKOFFICE, PASSWORDS, tenderable_insurer
from .conftest import WorkerProcess, worker_env

TENDERS = 200
PER_REQUEST = 5
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _login(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    csrf = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
    answer = await client.post("/login", data={"csrf_token": csrf, "email": MAIN_BACKOFFICE,
                                               "password": PASSWORDS["backoffice"]})
    assert answer.status_code == 303, answer.text[:500]
    home = await client.get("/")
    return CSRF_RE.search(home.text).group(1)  # type: ignore[union-attr]


async def test_two_workers_and_two_web_processes_do_everything_exactly_once(
    dev_env: WorkflowEnvironment, pg_database_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    engine = make_engine(pg_database_url)
    _truncate_all(engine)
    settings = _settings(pg_database_url, tmp_path, smtp_server)
    queue = f"so-{uuid.uuid4().hex[:8]}"
    settings.temporal_task_queue = settings.workflow_id_prefix = queue
    seed_demo(engine, settings, requests=TENDERS // PER_REQUEST + 10)
    with Session(engine) as s:
        requests = s.exec(select(Request).where(Request.account_id == 1).order_by(col(Request.id))).all()
    plan = []
    for request in requests:
        insurers = []
        for skip in range(PER_REQUEST):
            with contextlib.suppress(IndexError):
                insurers.append(tenderable_insurer(engine, request, skip=skip).id)
        if len(insurers) == PER_REQUEST:
            plan.append((request.id, insurers))
    plan = plan[: TENDERS // PER_REQUEST]
    assert sum(len(i) for _, i in plan) == TENDERS

    address = dev_env.client.service_client.config.target_host
    workers = [WorkerProcess(worker_env(settings, address, queue), tmp_path / f"w{n}") for n in range(2)]
    ports = [free_port(), free_port()]
    base = [f"http://127.0.0.1:{p}" for p in ports]
    env = [web_env(database_url=pg_database_url, temporal_address=address, task_queue=queue, id_prefix=queue,
                   smtp_port=settings.smtp_port, storage_dir=Path(settings.storage_dir), base_url=b,
                   secret_key=settings.secret_key) for b in base]
    for w in workers:
        w.log_dir.mkdir()
        w.start()
    started = asyncio.get_running_loop().time()
    try:
        with web_process(ports[0], env[0], tmp_path / "web-0.log"), \
                web_process(ports[1], env[1], tmp_path / "web-1.log"):
            async with httpx.AsyncClient(base_url=base[0], timeout=60) as web0, \
                    httpx.AsyncClient(base_url=base[1], timeout=60) as web1:
                webs = (web0, web1)
                tokens = [await _login(web) for web in webs]

                async def send(n: int, request_id: int, insurer_ids: list[int]) -> tuple[int, int]:
                    data = {"insurer_id": [str(i) for i in insurer_ids]}
                    first = await webs[n % 2].post(f"/requests/{request_id}/tenders",
                                                   data={**data, "csrf_token": tokens[n % 2]})
                    again = await webs[(n + 1) % 2].post(f"/requests/{request_id}/tenders",
                                                         data={**data, "csrf_token": tokens[(n + 1) % 2]})
                    return first.status_code, again.status_code

                sends = await asyncio.gather(*(send(n, r, i) for n, (r, i) in enumerate(plan)))
                assert all(first == 303 for first, _ in sends), sends
                assert all(again in (409, 422) for _, again in sends), sends  # the repeat starts nothing

                def sent() -> int:
                    with Session(engine) as s:
                        return int(s.exec(select(func.count()).select_from(Tender)
                                          .where(col(Tender.status) == TenderStatus.SENT)).one())

                await eventually(lambda: sent() == TENDERS or None, timeout=180)
                # Every mail so far is a tender email (German or English, by the contact's language).
                links = [LINK_RE.search(str(m.get_body(("plain",)).get_content())).group(1)  # type: ignore[union-attr]
                         for m in smtp_server.capture.messages]
                assert len(links) == TENDERS
                valid = utcnow().date().replace(year=utcnow().year + 1).strftime("%d.%m.%Y")
                pdf = sample_pdf("Angebot")
                gate = asyncio.Semaphore(20)

                async def offer(n: int, link: str) -> tuple[int, int]:
                    path = httpx.URL(link).path
                    async with gate:
                        page = await webs[n % 2].get(path)
                        fields = hidden_fields(page.text, "/offer", mode="new")
                        codes = []
                        for web in (webs[n % 2], webs[(n + 1) % 2]):  # the same form, twice, to both
                            answer = await web.post(f"{path}/offer", data={
                                **fields, "premium": f"{1000 + n},00", "valid_until": valid},
                                files={"file": ("angebot.pdf", pdf, "application/pdf")})
                            codes.append(answer.status_code)
                        return codes[0], codes[1]

                offers = await asyncio.gather(*(offer(n, link) for n, link in enumerate(links)))
                assert all(codes == (303, 303) for codes in offers), Counter(offers)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        for w in workers:
            w.stop()

    with Session(engine) as s:
        tender_ids = set(s.exec(select(Tender.id)).all())
        tender_emails = s.exec(select(SystemEmail.tender_id).where(SystemEmail.kind == "tender")).all()
        offer_rows = s.exec(select(Offer.tender_id)).all()
        active = s.exec(select(Offer.tender_id).where(col(Offer.active))).all()
        audit = Counter(s.exec(select(AuditEvent.kind, AuditEvent.tender_id)
                                .where(col(AuditEvent.tender_id).is_not(None))).all())
    delivered = Counter(str(m["Message-ID"]) for m in smtp_server.capture.messages
                        if LINK_RE.search(str(m.get_body(("plain",)).get_content())))  # type: ignore[union-attr]
    assert len(tender_ids) == TENDERS
    assert sorted(tender_emails) == sorted(tender_ids) and len(delivered) == TENDERS
    assert max(delivered.values()) == 1, "a tender email was delivered twice"
    assert sorted(offer_rows) == sorted(tender_ids) and sorted(active) == sorted(tender_ids)
    for kind in ("tender_started", "tender_sent", "offer_submitted"):
        per_tender = {t: n for (k, t), n in audit.items() if k == kind}
        assert set(per_tender) == tender_ids and set(per_tender.values()) == {1}, kind
    logs = [w.output() for w in workers]
    shares = [log.count("projected v") for log in logs]
    assert all(shares), f"both workers must have done work: {shares}"
    print(f"\nscale-out: {TENDERS} tenders through 2 web + 2 worker processes on PostgreSQL in {elapsed:.1f} s; "
          f"projections per worker {shares}; 1 tender email, 1 offer and each audit event once per tender")
