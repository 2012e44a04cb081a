"""JSON API: keys (hashed, scoped, revocable) and idempotency records

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 04:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tenderdesk.db.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'apikey',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('scopes', sa.JSON(), nullable=False, server_default='[]'),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', tenderdesk.db.types.UTCDateTime(), nullable=False),
        sa.Column('last_used_at', tenderdesk.db.types.UTCDateTime(), nullable=True),
        sa.Column('revoked_at', tenderdesk.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_apikey_account_id'), 'apikey', ['account_id'], unique=False)
    op.create_index(op.f('ix_apikey_key_hash'), 'apikey', ['key_hash'], unique=True)
    op.create_table(
        'idempotencyrecord',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('api_key_id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', tenderdesk.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['api_key_id'], ['apikey.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('api_key_id', 'key'),
    )
    op.create_index(op.f('ix_idempotencyrecord_api_key_id'), 'idempotencyrecord', ['api_key_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_idempotencyrecord_api_key_id'), table_name='idempotencyrecord')
    op.drop_table('idempotencyrecord')
    op.drop_index(op.f('ix_apikey_key_hash'), table_name='apikey')
    op.drop_index(op.f('ix_apikey_account_id'), table_name='apikey')
    op.drop_table('apikey')
