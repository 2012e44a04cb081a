"""A burst of offers does not freeze the web app (issue 8, defect 8).

Fifty insurers post their offers at the same moment, each on its own link,
against the web app in its own uvicorn process, the Temporal dev server and a
worker, on SQLite and PostgreSQL. Every offer is answered with the redirect
of success and recorded once; backoffice logins during the burst all succeed
and none waits anywhere near the 30 s of a pool timeout.

Before the fix each route held its database connection while it awaited the
workflow: 16 to 20 offers exhausted the pool, answers took 30 s, some were
500 (``QueuePool limit … reached``) and logins stalled. The figures (p50/p95
of offers and logins) are printed; ``benchmarks/offer_burst.py`` measures them
on a quiet machine.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, col, select

from benchmarks.offer_burst import (
    burst,
    links_in,
    login_users,
    sent_count,
    web_env,
    web_process,
)
from tenderdesk.db.models import Offer
from web.tenders.start import start_tenders

from ..conftest import Running, SmtpServer, eventually, free_port
from ..factories import make_world

INSURERS = 50
LOGINS = 8
#: Far below the 30 s of a pool timeout, far above a login on a busy 2-core machine.
LOGIN_BOUND_S = 10.0


async def test_fifty_offers_at_once_all_succeed_and_logins_go_on(
    dev: Running, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    world = make_world(dev.engine, insurers=INSURERS, tag="burst")
    emails = login_users(dev.engine, world.backoffice_user_id, LOGINS + 1)
    outcome = await start_tenders(
        client=dev.client, engine=dev.engine, task_queue=dev.task_queue, request_id=world.request_id,
        insurer_ids=world.insurer_ids, actor_user_id=None, id_prefix=dev.settings.workflow_id_prefix,
    )
    assert len(outcome.started) == INSURERS, outcome.refused
    await eventually(lambda: sent_count(dev.engine, world.request_id) == INSURERS or None, timeout=90)
    links = links_in([m for m in smtp_server.capture.messages if "burst.example" in str(m["To"])])
    assert len(links) == INSURERS

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    s = dev.settings
    env = web_env(
        database_url=s.database_url, temporal_address=dev.client.service_client.config.target_host,
        task_queue=dev.task_queue, id_prefix=s.workflow_id_prefix, smtp_port=s.smtp_port,
        storage_dir=Path(s.storage_dir), base_url=base_url, secret_key=s.secret_key,
    )
    with web_process(port, env, tmp_path / "web.log"):
        result = await burst(base_url, list(links.values()), emails=emails)
    print(f"\n{result.summary()}")
    log = (tmp_path / "web.log").read_text()

    assert result.offer_status == [303] * INSURERS, log[-3000:]
    assert result.login_status == [303] * LOGINS
    assert max(result.login_s) < LOGIN_BOUND_S, result.summary()
    assert "QueuePool" not in log and "Traceback" not in log
    with Session(dev.engine) as db:
        offers = db.exec(select(Offer).where(Offer.request_id == world.request_id)
                         .where(col(Offer.active))).all()
    assert sorted(o.tender_id for o in offers) == sorted(t.id for t in outcome.started)  # type: ignore[type-var]
