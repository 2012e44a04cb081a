"""system email status cancelled

An insurer email of a tender that ended before it went out is recorded as
``cancelled`` (never sent), not as failed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_OLD = ('PENDING', 'RETRYING', 'SENT', 'FAILED')
_NEW = (*_OLD, 'CANCELLED')


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # A native type: add the value in place, outside the migration's transaction.
        with op.get_context().autocommit_block():
            op.execute("ALTER TYPE emailstatus ADD VALUE IF NOT EXISTS 'CANCELLED'")
        return
    # SQLite keeps the enum as VARCHAR sized to the longest value, which grows by one.
    with op.batch_alter_table("systememail") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.Enum(*_OLD, name="emailstatus"),
            type_=sa.Enum(*_NEW, name="emailstatus"),
            existing_nullable=False,
        )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; rows keep it harmlessly.
    pass
