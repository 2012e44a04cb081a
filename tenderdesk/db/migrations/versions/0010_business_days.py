"""business days: account switch, policyholder Bundesland, paused reminders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_days', sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table('policyholder', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('tender', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminders_paused', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('tender', schema=None) as batch_op:
        batch_op.drop_column('reminders_paused')
    with op.batch_alter_table('policyholder', schema=None) as batch_op:
        batch_op.drop_column('state')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_column('business_days')
