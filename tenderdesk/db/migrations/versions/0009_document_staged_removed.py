"""document kinds staged and removed

A file uploaded in the tender wizard is ``staged`` until the tender that sends
it starts; a document the backoffice removes before it went out is
``removed`` (the row stays for the timeline).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_OLD = ('REQUEST', 'OFFER', 'ATTACHMENT', 'COVER_NOTE')
_NEW = (*_OLD, 'STAGED', 'REMOVED')


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A native type: add the values in place, outside the migration's transaction.
        with op.get_context().autocommit_block():
            for value in _NEW[len(_OLD):]:
                op.execute(f"ALTER TYPE documentkind ADD VALUE IF NOT EXISTS '{value}'")
        return
    with op.batch_alter_table("document") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.Enum(*_OLD, name="documentkind"),
            type_=sa.Enum(*_NEW, name="documentkind"),
            existing_nullable=False,
        )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; rows keep it harmlessly.
    pass
