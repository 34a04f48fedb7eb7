"""session seats taken

Each session keeps its number of confirmed registrations (``seats_taken``), so that a
registration reads one number where it counted every seat already given, under the seat lock
that every other registration for the session waits for: at 3,600 confirmed seats the count
took 0.65 ms of PostgreSQL's time (3,600 heap fetches: rows that new are not yet all-visible),
and a registration rush grew slower as the session filled.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no batch mode): SQLite adds a column with a constant default in place.
    op.add_column(
        'event_sessions',
        sa.Column('seats_taken', sa.Integer(), server_default='0', nullable=False),
    )
    op.execute(
        "UPDATE event_sessions SET seats_taken = (SELECT count(*) FROM registrations "
        "WHERE registrations.session_id = event_sessions.id "
        "AND registrations.status = 'confirmed')"
    )


def downgrade():
    with op.batch_alter_table('event_sessions') as batch:
        batch.drop_column('seats_taken')
