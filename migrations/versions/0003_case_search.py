"""case search: the search document per case (case_search), an FTS5 trigram index on
SQLite and a pg_trgm GIN index on PostgreSQL

Revision ID: 0003_case_search
Revises: 0002_casefiles

The FTS5 table (with its shadow tables), its sync triggers and the trigram index are
made here by raw SQL and are not in the SQLAlchemy metadata; autogenerate and the
model/migration comparison skip them through portal.casefiles.search.alembic_include_name.
Existing cases are indexed at the end (the same text portal.casefiles.search builds:
number, party names, summary and note texts of events, lower-cased, one per line).
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0003_case_search"
down_revision = "0002_casefiles"
branch_labels = None
depends_on = None

SQLITE_UP = (
    """CREATE VIRTUAL TABLE case_search_fts USING fts5(
        body, content='case_search', content_rowid='case_id', tokenize='trigram')""",
    """CREATE TRIGGER case_search_fts_ai AFTER INSERT ON case_search BEGIN
        INSERT INTO case_search_fts(rowid, body) VALUES (new.case_id, new.body);
    END""",
    """CREATE TRIGGER case_search_fts_ad AFTER DELETE ON case_search BEGIN
        INSERT INTO case_search_fts(case_search_fts, rowid, body)
        VALUES ('delete', old.case_id, old.body);
    END""",
    """CREATE TRIGGER case_search_fts_au AFTER UPDATE ON case_search BEGIN
        INSERT INTO case_search_fts(case_search_fts, rowid, body)
        VALUES ('delete', old.case_id, old.body);
        INSERT INTO case_search_fts(rowid, body) VALUES (new.case_id, new.body);
    END""",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS case_search_fts_au",
    "DROP TRIGGER IF EXISTS case_search_fts_ad",
    "DROP TRIGGER IF EXISTS case_search_fts_ai",
    "DROP TABLE IF EXISTS case_search_fts",
)
PG_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_case_search_body_trgm ON case_search USING gin (body gin_trgm_ops)",
)
#: the extension stays: other schemas may use it
PG_DOWN = ("DROP INDEX IF EXISTS ix_case_search_body_trgm",)

TEXT_KEYS = ("text", "note", "reason", "reply", "opinion", "plan", "comment", "content")


def _norm(text):
    return " ".join((text or "").split()).lower()


def _backfill(bind):
    """Index the cases that exist already (a copy of search.build_body, frozen here)."""
    cases = {cid: [_norm(number), [], _norm(summary), []] for cid, number, summary in
             bind.execute(sa.text("SELECT id, number, summary FROM cases"))}
    if not cases:
        return
    for cid, name in bind.execute(sa.text(
            "SELECT case_id, name FROM case_parties ORDER BY id")):
        cases[cid][1].append(_norm(name))
    for cid, payload in bind.execute(sa.text(
            "SELECT case_id, payload FROM case_events ORDER BY case_id, seq")):
        try:
            data = json.loads(payload)
        except ValueError:
            continue
        if isinstance(data, dict):
            found = [_norm(data[k]) for k in TEXT_KEYS if isinstance(data.get(k), str)]
            text = "\n".join(t for t in found if t)
            if text:
                cases[cid][3].append(text)
    rows = []
    for cid, (number, names, summary, texts) in cases.items():
        lines = [number, *names, summary, *texts]
        rows.append({"case_id": cid, "body": "\n".join(x for x in lines if x)})
    bind.execute(sa.text("INSERT INTO case_search (case_id, body) VALUES (:case_id, :body)"),
                 rows)


def upgrade():
    op.create_table('case_search',
    sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_search_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_search'))
    )
    bind = op.get_bind()
    for statement in (PG_UP if bind.dialect.name == "postgresql" else SQLITE_UP):
        op.execute(statement)
    _backfill(bind)


def downgrade():
    bind = op.get_bind()
    for statement in (PG_DOWN if bind.dialect.name == "postgresql" else SQLITE_DOWN):
        op.execute(statement)
    op.drop_table('case_search')
