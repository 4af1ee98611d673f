"""case parties: the kind of identity document (resident ID, passport, permits, ...)

Revision ID: 0007_party_id_kind
Revises: 0006_video
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_party_id_kind'
down_revision = '0006_video'
branch_labels = None
depends_on = None


def upgrade():
    # a plain ADD COLUMN (no batch rebuild: case_parties is referenced by the access log)
    op.add_column('case_parties', sa.Column('id_kind', sa.String(length=20), nullable=False,
                                            server_default='resident_id'))


def downgrade():
    with op.batch_alter_table('case_parties') as batch:
        batch.drop_column('id_kind')
