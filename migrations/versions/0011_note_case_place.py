"""video reception notes: the kind of matter and the place (township, village) of the
case a note opens

Revision ID: 0011_note_case_place
Revises: 0009_case_heads
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_note_case_place'
down_revision = '0009_case_heads'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMNs; the place is checked against the organisations when filed
    op.add_column('video_notes', sa.Column('case_kind', sa.String(length=32), nullable=True))
    op.add_column('video_notes', sa.Column('township_id', sa.Integer(), nullable=True))
    op.add_column('video_notes', sa.Column('village_id', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('video_notes') as batch:
        batch.drop_column('village_id')
        batch.drop_column('township_id')
        batch.drop_column('case_kind')
