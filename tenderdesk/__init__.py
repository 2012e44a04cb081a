"""Tenderdesk's shared domain: settings, SQLModel tables and pure rules.

Only leaf modules live here. Workflows import ``tenderdesk.states`` and
``tenderdesk.contracts`` (pure, deterministic); the database layer stays out of
the workflow sandbox.
"""

TASK_QUEUE = "tenders"
