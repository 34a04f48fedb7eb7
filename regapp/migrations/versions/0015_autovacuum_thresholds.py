"""autovacuum thresholds

On PostgreSQL, autovacuum analyzes a table after 50 of its rows changed, so a new database's
participants and registrations got their statistics after the first few registrations. Plans
made from statistics of so small a table scan it whole, and kept doing so as the event's
registration rush filled it, until autovacuum's next round up to a minute later: the server's
CPU per registration doubled within 6,000 registrations (bench/README.md, "Registration,
session 15"). Autovacuum now leaves these tables until 1,000 of their rows changed
(``regapp.database.analyze_when_filled``). Nothing changes on SQLite.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 14:10:00

"""
from alembic import op

from regapp.database import analyze_when_filled


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

TABLES = ('participants', 'registrations')


def upgrade():
    analyze_when_filled(op.get_bind(), *TABLES)


def downgrade():
    analyze_when_filled(op.get_bind(), *TABLES, undo=True)
