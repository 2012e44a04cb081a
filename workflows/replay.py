"""``tenderdesk replay``: replay recent histories from the configured Temporal
server against the current workflow code, before a deploy.

A tender runs for weeks. A worker with changed workflow code must continue
every running tender from its history; if the change issues different commands
for the same history, those tenders fail with a nondeterminism error. This
downloads the histories of the workflows started in the last ``--hours``
(running or not, at most ``--limit``) and replays each; any failure is printed
with its workflow ID and the exit code is 1. ``tests/test_replay.py`` does the
same for the recorded histories in the repository.

    .venv/bin/tenderdesk replay [--hours 72] [--limit 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.worker import Replayer

from tenderdesk import temporal_client
from tenderdesk.config import get_settings
from workflows.binding import BindingWorkflow
from workflows.notification import NotificationWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.tender import TenderWorkflow

WORKFLOWS: tuple[type, ...] = (TenderWorkflow, BindingWorkflow, NotificationWorkflow, ReconcileWorkflow)


@dataclass
class ReplayReport:
    replayed: int = 0
    #: workflow ID → the replay failure, as text.
    failures: dict[str, str] = field(default_factory=dict)


def recent_query(since: datetime, types: Sequence[str]) -> str:
    names = ", ".join(f"'{name}'" for name in types)
    return f"WorkflowType IN ({names}) AND StartTime > '{since.astimezone(UTC).isoformat()}'"


async def replay_recent(
    client: Client, *, hours: float = 72, limit: int = 1000, workflows: Sequence[type] = WORKFLOWS,
    types: Sequence[str] | None = None,
) -> ReplayReport:
    """Replay the histories of workflows started in the last ``hours``; ``types``
    are the workflow type names to fetch (default: the classes' names, which
    are our workflows' registered names)."""
    query = recent_query(datetime.now(UTC) - timedelta(hours=hours), types or [w.__name__ for w in workflows])
    histories = client.list_workflows(query, limit=limit).map_histories()
    report = ReplayReport()
    async with Replayer(workflows=list(workflows)).workflow_replay_iterator(histories) as results:
        async for result in results:
            report.replayed += 1
            if result.replay_failure is not None:
                report.failures[result.history.workflow_id] = f"{type(result.replay_failure).__name__}: " \
                    f"{str(result.replay_failure)[:300]}"
    return report


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tenderdesk replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=72, help="workflows started this recently (default 72)")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many histories (default 1000)")
    args = parser.parse_args(argv)
    client = await temporal_client.connect(get_settings())
    report = await replay_recent(client, hours=args.hours, limit=args.limit)
    for workflow_id, failure in sorted(report.failures.items()):
        print(f"FAILED {workflow_id}: {failure}")
    print(f"replayed {report.replayed} histories, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
