"""structured offer terms: deductible, commission, cover modules, exclusions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deductible_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('commission_bp', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cover_modules', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('exclusions', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_column('exclusions')
        batch_op.drop_column('cover_modules')
        batch_op.drop_column('commission_bp')
        batch_op.drop_column('deductible_cents')
