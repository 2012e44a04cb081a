"""mail outside requests, reset link minted at send

The password reset email is a System Email without a request, and its
``PasswordReset`` row gets its token hash only when the email activity sends it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:16:54.159983
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = 'fk_passwordreset_system_email_id_systememail'


def upgrade() -> None:
    with op.batch_alter_table('passwordreset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('system_email_id', sa.Integer(), nullable=True))
        batch_op.alter_column('token_hash', existing_type=sa.VARCHAR(), nullable=True)
        batch_op.create_index(batch_op.f('ix_passwordreset_system_email_id'), ['system_email_id'], unique=True)
        batch_op.create_foreign_key(FK_NAME, 'systememail', ['system_email_id'], ['id'])

    with op.batch_alter_table('systememail', schema=None) as batch_op:
        batch_op.alter_column('request_id', existing_type=sa.INTEGER(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM passwordreset WHERE token_hash IS NULL")
    with op.batch_alter_table('passwordreset', schema=None) as batch_op:
        batch_op.drop_constraint(FK_NAME, type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_passwordreset_system_email_id'))
        batch_op.alter_column('token_hash', existing_type=sa.VARCHAR(), nullable=False)
        batch_op.drop_column('system_email_id')
    op.execute("DELETE FROM systememail WHERE request_id IS NULL")

    with op.batch_alter_table('systememail', schema=None) as batch_op:
        batch_op.alter_column('request_id', existing_type=sa.INTEGER(), nullable=False)
