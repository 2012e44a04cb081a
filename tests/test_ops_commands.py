"""``tenderdesk replay`` and ``tenderdesk reindex`` against a real Temporal dev
server, worker and database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlmodel import Session

from activities.reindex import reindex
from tenderdesk.config import ROOT
from tenderdesk.db.models import Tender
from tenderdesk.states import TenderStatus
from workflows.replay import replay_recent

from .changed_workflow import ChangedTenderWorkflow
from .conftest import Running, SmtpServer
from .factories import make_world
from .workflows.helpers import snapshot, start, wait_status


async def test_replay_passes_current_code_and_fails_a_changed_workflow(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    tenders = await start(dev, world, n=3)
    for tender in tenders:
        await wait_status(dev, tender, TenderStatus.SENT)
    report = await replay_recent(dev.client, hours=1)
    assert report.replayed >= 3 and report.failures == {}
    changed = await replay_recent(dev.client, hours=1, workflows=[ChangedTenderWorkflow], types=["TenderWorkflow"])
    ours = {t.workflow_id for t in tenders}
    assert ours <= set(changed.failures), "a nondeterministic change must fail the replay"
    assert all("ondeterminis" in changed.failures[w] for w in ours), changed.failures


async def test_reindex_rebuilds_rows_from_their_workflows(dev: Running, smtp_server: SmtpServer) -> None:
    world = make_world(dev.engine)
    [tender] = await start(dev, world)
    truth = await wait_status(dev, tender, TenderStatus.SENT)
    with Session(dev.engine) as s:  # a restore from an old backup, say
        row = s.get(Tender, tender.id)
        assert row is not None
        row.status, row.projection_version, row.next_reminder_at, row.sent_at = TenderStatus.QUEUED, 99, None, None
        s.add(row)
        s.commit()
    for _ in range(2):  # idempotent
        report = await reindex(dev.client, dev.engine, id_prefix=dev.settings.workflow_id_prefix)
        assert report.rebuilt == 1 and report.skipped == {}
    with Session(dev.engine) as s:
        row = s.get(Tender, tender.id)
        assert row is not None
        assert row.status == TenderStatus.SENT and row.projection_version == truth.version
        assert row.sent_at == truth.sent_at and row.next_reminder_at == truth.next_reminder_at
    assert (await snapshot(dev, tender)).status == TenderStatus.SENT


async def test_the_cli_runs_both_commands(dev: Running) -> None:
    """The installed entry point, as an operator types it."""
    env = dict(os.environ, TEMPORAL_ADDRESS=dev.client.service_client.config.target_host,
               TEMPORAL_NAMESPACE=dev.client.namespace, DATABASE_URL=dev.settings.database_url,
               WORKFLOW_ID_PREFIX=dev.settings.workflow_id_prefix)
    cli = [sys.executable, "-m", "tenderdesk.dev.cli"]
    replayed = await asyncio.to_thread(subprocess.run, [*cli, "replay", "--hours", "1"], env=env, cwd=ROOT,
                                       capture_output=True, text=True, timeout=120)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "histories, 0 failed" in replayed.stdout
    rebuilt = await asyncio.to_thread(subprocess.run, [*cli, "reindex"], env=env, cwd=ROOT, capture_output=True,
                                      text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "tender rows from their workflows, 0 skipped" in rebuilt.stdout
