"""The yardstick of ``benchmarks.lifecycle``: the least a tender lifecycle can
cost on Temporal. One activity (standing in for "send the email") and one
update (standing in for "the insurer's offer"), nothing else. Run as its own
worker process: ``python -m benchmarks.bare`` (TEMPORAL_ADDRESS, task queue "bare")."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

TASK_QUEUE = "bare"


@activity.defn
async def bare_send(n: int) -> int:
    return n


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self.offered = False

    @workflow.run
    async def run(self, n: int) -> str:
        await workflow.execute_activity(bare_send, n, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.offered)
        return "offered"

    @workflow.update
    async def offer(self, premium: int) -> str:
        self.offered = True
        return "offered"


async def main() -> None:
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[BareWorkflow], activities=[bare_send]):
        print("bare worker ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
