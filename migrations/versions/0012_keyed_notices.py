"""notices in the recipient's language: notifications keep a message key and its values;
each user's preferred language (user_preferences)

Revision ID: 0012_keyed_notices
Revises: 0011_note_case_place
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_keyed_notices'
down_revision = '0011_note_case_place'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('notifications', sa.Column('message_key', sa.String(length=100),
                                             nullable=True))
    op.add_column('notifications', sa.Column('message_values', sa.Text(), nullable=True))
    op.create_table(
        'user_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_user_preferences_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_preferences')),
    )


def downgrade():
    op.drop_table('user_preferences')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('message_values')
        batch.drop_column('message_key')
