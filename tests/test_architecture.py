"""ARCHITECTURE.md stays true: its state diagram has exactly the moves of
``TRANSITIONS`` (start and end markers aside)."""

from __future__ import annotations

import re
from pathlib import Path

from tenderdesk.states import TRANSITIONS, TenderStatus

ARCHITECTURE = Path(__file__).resolve().parents[1] / "ARCHITECTURE.md"
ARROW = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*(?::.*)?$")


def diagram_moves(text: str) -> set[tuple[str, str]]:
    block = text.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "stateDiagram-v2" in block
    moves = set()
    for line in block.splitlines():
        match = ARROW.match(line.replace("[*]", "START"))
        if match and "START" not in match.groups():
            moves.add((match.group(1), match.group(2)))
    return moves


def test_state_diagram_has_exactly_the_transitions_of_the_table() -> None:
    table = {(source.value, target.value) for source, targets in TRANSITIONS.items() for target in targets}
    drawn = diagram_moves(ARCHITECTURE.read_text("utf-8"))
    assert drawn - table == set(), "drawn in ARCHITECTURE.md but not in TRANSITIONS"
    assert table - drawn == set(), "in TRANSITIONS but missing from ARCHITECTURE.md"


def test_every_terminal_state_ends_in_the_diagram() -> None:
    text = ARCHITECTURE.read_text("utf-8")
    for status in TenderStatus:
        if status not in TRANSITIONS:
            assert f"{status.value} --> [*]" in text, status


def test_the_parser_reads_labels_and_skips_markers() -> None:
    text = "```mermaid\nstateDiagram-v2\n  [*] --> a: start\n  a --> b: go\n  b --> [*]\n```"
    assert diagram_moves(text) == {("a", "b")}
