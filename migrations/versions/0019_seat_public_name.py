"""video: the name a multi-party room's watch-only seats see for a seat (a hearing's party
by role, not by name)

Revision ID: 0019_seat_public_name
Revises: 0018_multi_party_rooms
Create Date: 2026-12-02 13:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019_seat_public_name'
down_revision = '0018_multi_party_rooms'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('video_seats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_name', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('video_seats', schema=None) as batch_op:
        batch_op.drop_column('public_name')
