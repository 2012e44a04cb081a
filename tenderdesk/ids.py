"""Every workflow ID, built from domain IDs only: no names, no addresses, no tokens.

``prefix`` (setting ``WORKFLOW_ID_PREFIX``) lets several installations or test
runs share one Temporal namespace without their IDs colliding. One tender per
(request, insurer) may be open at a time; Temporal's ``id_conflict_policy=FAIL``
enforces it across all web processes.
"""

from __future__ import annotations


def tender_workflow_id(request_id: int, insurer_id: int, prefix: str = "tender") -> str:
    return f"{prefix}-r{request_id}-i{insurer_id}"


def binding_workflow_id(request_id: int, prefix: str = "tender") -> str:
    """One binding workflow per request."""
    return f"{prefix}-binding-r{request_id}"


def mail_workflow_id(system_email_id: int, prefix: str = "tender") -> str:
    """One delivery workflow per System Email row, so no row is delivered twice."""
    return f"{prefix}-mail-{system_email_id}"
