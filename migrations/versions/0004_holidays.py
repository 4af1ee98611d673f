"""deadline engine: the admin's holiday calendar (holidays) and the record of deadline
reminders sent (case_reminders)

Revision ID: 0004_holidays
Revises: 0003_case_search
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0004_holidays"
down_revision = "0003_case_search"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holidays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_holidays_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holidays')),
    sa.UniqueConstraint('day', name=op.f('uq_holidays_day'))
    )
    op.create_table('case_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('clock', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_reminders_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_reminders')),
    sa.UniqueConstraint('key', name=op.f('uq_case_reminders_key'))
    )
    with op.batch_alter_table('case_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_reminders_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_reminders_case_id'))
    op.drop_table('case_reminders')
    op.drop_table('holidays')
