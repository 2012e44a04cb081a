"""insurer contact locale

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing contacts keep German, the language they have always been written in.
    with op.batch_alter_table('insurercontact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='de'))


def downgrade() -> None:
    with op.batch_alter_table('insurercontact', schema=None) as batch_op:
        batch_op.drop_column('locale')
