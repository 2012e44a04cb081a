"""``tenderdesk reindex``: rebuild the database projection of open tenders from
their workflows.

The workflow is the source of truth for a tender's state and dates; the
``tender`` rows are a projection the pages read. After a database restore, a
manual fix gone wrong or a bug in a projection, this asks every running
TenderWorkflow for its snapshot and writes it to its row (overwriting whatever
version the row has), without adding timeline entries. Idempotent: running it
twice writes the same rows.

    .venv/bin/tenderdesk reindex
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.projection import ProjectionActivities
from tenderdesk import temporal_client
from tenderdesk.config import get_settings
from tenderdesk.contracts import ProjectionInput, TenderSnapshot
from tenderdesk.db.engine import get_engine

QUERY = "WorkflowType = 'TenderWorkflow' AND ExecutionStatus = 'Running'"


@dataclass
class ReindexReport:
    rebuilt: int = 0
    #: Workflow IDs whose snapshot or row could not be had, with why.
    skipped: dict[str, str] = field(default_factory=dict)


async def reindex(client: Client, engine: Engine, *, id_prefix: str = "") -> ReindexReport:
    projection = ProjectionActivities(engine)
    report = ReindexReport()
    async for execution in client.list_workflows(QUERY):
        if id_prefix and not execution.id.startswith(id_prefix):
            continue
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            snapshot = await handle.query("snapshot", result_type=TenderSnapshot)
        except (RPCError, WorkflowQueryFailedError) as err:
            report.skipped[execution.id] = type(err).__name__
            continue
        try:
            await asyncio.to_thread(projection.rebuild, ProjectionInput(snapshot=snapshot, event="reindexed"))
        except LookupError as err:
            report.skipped[execution.id] = str(err)
            continue
        report.rebuilt += 1
    return report


async def main(argv: Sequence[str] | None = None) -> int:
    settings = get_settings()
    client = await temporal_client.connect(settings)
    report = await reindex(client, get_engine(settings.database_url), id_prefix=settings.workflow_id_prefix)
    for workflow_id, why in sorted(report.skipped.items()):
        print(f"skipped {workflow_id}: {why}")
    print(f"rebuilt {report.rebuilt} tender rows from their workflows, {len(report.skipped)} skipped")
    return 1 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
