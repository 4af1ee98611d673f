"""video: multi-party rooms: private rooms (named seats only) and seats admitted on arrival, the
owning domain's reference of a seat

Revision ID: 0018_multi_party_rooms
Revises: 0015_hearings
Create Date: 2026-12-02 12:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0018_multi_party_rooms'
down_revision = '0015_hearings'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('video_rooms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_private', sa.Boolean(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('video_seats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admit_on_arrival', sa.Boolean(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('ref', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_video_seats_room_ref', ['room_id', 'ref'], unique=False)


def downgrade():
    with op.batch_alter_table('video_seats', schema=None) as batch_op:
        batch_op.drop_index('ix_video_seats_room_ref')
        batch_op.drop_column('ref')
        batch_op.drop_column('admit_on_arrival')
    with op.batch_alter_table('video_rooms', schema=None) as batch_op:
        batch_op.drop_column('is_private')
