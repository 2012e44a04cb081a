"""Web restart mid-run (issue 8): the web process is killed (-9) while insurers
post offers and started again; every offer whose post was confirmed (303)
is recorded, and an insurer whose post got no answer can send the same form
again, which is recorded once. Real uvicorn process, dev server, worker."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
from sqlmodel import Session, col, select

from benchmarks.offer_burst import hidden_fields, links_in, sample_pdf, sent_count, web_env, web_process
from tenderdesk.db.models import Offer, utcnow
from web.tenders.start import start_tenders

from ..conftest import Running, SmtpServer, eventually, free_port
from ..factories import make_world

INSURERS = 12


async def test_offers_confirmed_before_a_web_crash_are_kept(
    dev: Running, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    world = make_world(dev.engine, insurers=INSURERS, tag="webcrash")
    outcome = await start_tenders(
        client=dev.client, engine=dev.engine, task_queue=dev.task_queue, request_id=world.request_id,
        insurer_ids=world.insurer_ids, actor_user_id=None, id_prefix=dev.settings.workflow_id_prefix,
    )
    assert len(outcome.started) == INSURERS
    await eventually(lambda: sent_count(dev.engine, world.request_id) == INSURERS or None, timeout=60)
    links = list(links_in([m for m in smtp_server.capture.messages if "webcrash" in str(m["To"])]).values())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    s = dev.settings
    env = web_env(database_url=s.database_url, temporal_address=dev.client.service_client.config.target_host,
                  task_queue=dev.task_queue, id_prefix=s.workflow_id_prefix, smtp_port=s.smtp_port,
                  storage_dir=Path(s.storage_dir), base_url=base, secret_key=s.secret_key)
    valid = (utcnow().date().replace(year=utcnow().year + 1)).strftime("%d.%m.%Y")
    pdf = sample_pdf("Angebot")
    forms: list[dict[str, str]] = []

    async def post(client: httpx.AsyncClient, link: str, fields: dict[str, str]) -> int:
        try:
            answer = await client.post(f"{httpx.URL(link).path}/offer",
                                       data={**fields, "premium": "1.500,00", "valid_until": valid},
                                       files={"file": ("angebot.pdf", pdf, "application/pdf")})
            return answer.status_code
        except httpx.HTTPError:
            return 0  # no answer: the process died under it

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        with web_process(port, env, tmp_path / "web-1.log") as proc:
            for link in links:
                page = await client.get(httpx.URL(link).path)
                forms.append(hidden_fields(page.text, "/offer", mode="new"))
            posts = [asyncio.create_task(post(client, link, f)) for link, f in zip(links, forms, strict=True)]
            # Kill once about a third is confirmed: the rest is in flight or not yet read.
            for _ in range(400):
                if sum(1 for t in posts if t.done() and t.result() == 303) >= INSURERS // 3:
                    break
                await asyncio.sleep(0.025)
            os.kill(proc.pid, signal.SIGKILL)
            first = await asyncio.gather(*posts)
        confirmed = {i for i, code in enumerate(first) if code == 303}
        with web_process(port, env, tmp_path / "web-2.log"):
            again = [await post(client, links[i], forms[i]) for i in range(INSURERS) if i not in confirmed]

    def offers() -> list[Offer]:
        with Session(dev.engine) as db:
            return list(db.exec(select(Offer).where(Offer.request_id == world.request_id)
                                .where(col(Offer.active))).all())

    await eventually(lambda: len(offers()) == INSURERS or None, timeout=30)
    by_tender = {o.tender_id for o in offers()}
    print(f"\nweb kill -9 during {INSURERS} offer posts: {len(confirmed)} confirmed before the crash, "
          f"{INSURERS - len(confirmed)} sent again after the restart ({sorted(set(again))}); "
          f"{len(offers())} offers recorded")
    assert len(by_tender) == INSURERS == len(offers())  # each once, none lost
    assert set(again) <= {303}
