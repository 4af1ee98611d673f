"""cases: the timeline's head (event_count, head_hash), backfilled from the events; the
stored due dates recomputed with the State Council's days (chinese-calendar)

Revision ID: 0009_case_heads
Revises: 0008_login_sessions
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_case_heads'
down_revision = '0008_login_sessions'
branch_labels = None
depends_on = None


def upgrade():
    # plain ADD COLUMNs (no batch rebuild: cases is referenced by every case table)
    op.add_column('cases', sa.Column('event_count', sa.Integer(), nullable=False,
                                     server_default='0'))
    op.add_column('cases', sa.Column('head_hash', sa.String(length=64), nullable=False,
                                     server_default='0' * 64))
    # the head of each existing chain: its newest event (an UPDATE of cases, which the
    # append-only triggers of case_events do not concern)
    op.execute(
        "UPDATE cases SET "
        "event_count = COALESCE((SELECT MAX(e.seq) FROM case_events e "
        "WHERE e.case_id = cases.id), 0), "
        "head_hash = COALESCE((SELECT e.hash FROM case_events e WHERE e.case_id = cases.id "
        "ORDER BY e.seq DESC LIMIT 1), '" + '0' * 64 + "')"
    )
    # the working-day calendar now holds the package's holidays and make-up days: each
    # case's stored due date (cases.clock_due_on) is recomputed as the portal does
    from portal.casefiles.due import refresh_all

    refresh_all(op.get_bind())


def downgrade():
    op.drop_column('cases', 'head_hash')
    op.drop_column('cases', 'event_count')
