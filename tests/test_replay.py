"""Replay recorded TenderWorkflow histories against the current code.

A tender runs for weeks; a worker deployed in between must continue every
running tender from its history. Any change to ``TenderWorkflow`` that issues
different commands for the same history (an activity more or less, a timer in
another place, a renamed activity) breaks those tenders with a
nondeterminism error. These tests catch that before deployment: the files in
``tests/histories/`` were recorded by ``tests/record_histories.py`` and are
kept when the workflow changes. If a change is intended, guard it with
``workflow.patched`` instead of re-recording.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tenderdesk.contracts import TenderInput
from workflows.tender import TenderWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def test_recorded_histories_exist() -> None:
    """An empty folder would make the replay tests vanish silently; fail instead."""
    assert FILES, f"no recorded histories in {HISTORIES}; run `python -m tests.record_histories`"
    for path in FILES:
        history = load(path)
        assert history.events[0].HasField("workflow_execution_started_event_attributes"), path.name
        assert (history.events[0].workflow_execution_started_event_attributes
                .workflow_type.name == "TenderWorkflow"), path.name


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    result = await Replayer(workflows=[TenderWorkflow]).replay_workflow(
        load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"


@workflow.defn(name="TenderWorkflow", sandboxed=False)
class ReorderedTenderWorkflow(TenderWorkflow):
    """An incompatible change: a timer before the first projection activity."""

    @workflow.run
    async def run(self, inp: TenderInput) -> str:
        await workflow.sleep(1)
        return await super().run(inp)


async def test_replayer_catches_an_incompatible_change() -> None:
    """Guards the guard: the replay above must fail for a workflow that changed."""
    assert FILES
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ReorderedTenderWorkflow]).replay_workflow(load(FILES[0]))
