"""case files: the due date of each case's running office clock (cases.clock_due_on,
cases.is_clock_paused), so the overdue filter is an indexed condition; access_logs.person_id
for the unmasked phone numbers of the people registries

Revision ID: 0005_case_due_at
Revises: 0004_holidays

The columns on ``cases`` are added with plain ALTER TABLE (no batch copy: on SQLite a
batch would drop and re-create ``cases``, which the foreign keys of the other case tables
refuse). ``access_logs`` has no triggers and nothing refers to it, so its new foreign key
goes through a batch. Existing cases get their due dates from the same clock code the
portal runs (portal.casefiles.due.refresh_all), in batches.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005_case_due_at"
down_revision = "0004_holidays"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("clock_due_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("is_clock_paused", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_index(op.f("ix_cases_clock_due_on"), "cases", ["clock_due_on"], unique=False)
    with op.batch_alter_table("access_logs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_access_logs_person_id"), ["person_id"],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_access_logs_person_id_people"), "people",
                                    ["person_id"], ["id"], ondelete="CASCADE")

    from portal.casefiles.due import refresh_all

    refresh_all(op.get_bind())


def downgrade():
    with op.batch_alter_table("access_logs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_access_logs_person_id_people"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_access_logs_person_id"))
        batch_op.drop_column("person_id")
    op.drop_index(op.f("ix_cases_clock_due_on"), table_name="cases")
    # native ALTER TABLE ... DROP COLUMN (SQLite 3.35+), no copy of the table
    op.drop_column("cases", "is_clock_paused")
    op.drop_column("cases", "clock_due_on")
