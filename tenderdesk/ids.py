"""Workflow IDs, built from domain IDs only: no names, no addresses, no tokens.

One tender per (request, insurer) may be open at a time; Temporal's
``id_conflict_policy=FAIL`` enforces it across all web processes.
"""

from __future__ import annotations


def tender_workflow_id(request_id: int, insurer_id: int, prefix: str = "tender") -> str:
    """``prefix`` (setting ``WORKFLOW_ID_PREFIX``) lets several installations or
    test runs share one Temporal namespace without their IDs colliding."""
    return f"{prefix}-r{request_id}-i{insurer_id}"
