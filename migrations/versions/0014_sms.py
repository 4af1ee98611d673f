"""text messages: the outbox's channel (email | sms) and an SMS's template parameters; the
language a video reception's guest reads (their join link's SMS)

Revision ID: 0014_sms
Revises: 0012_keyed_notices
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_sms'
down_revision = '0012_keyed_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox_messages', sa.Column('channel', sa.String(length=8), nullable=False,
                                               server_default='email'))
    op.add_column('outbox_messages', sa.Column('payload', sa.Text(), nullable=True))
    op.add_column('video_seats', sa.Column('locale', sa.String(length=8), nullable=False,
                                           server_default='zh_CN'))


def downgrade():
    with op.batch_alter_table('video_seats') as batch:
        batch.drop_column('locale')
    with op.batch_alter_table('outbox_messages') as batch:
        batch.drop_column('payload')
        batch.drop_column('channel')
