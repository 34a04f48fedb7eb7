"""report indexes

Indexes that let the attendance reports read what they count from an index alone, at 100,000
participants (bench/README.md has the figures):

- check-ins: the ``ok`` entries per session and per person (partial indexes: the reports write
  the verdict into the SQL as a literal, so both databases use them), and the ``annulled`` ones;
- registrations: the seats per session and per person, and ``updated_at``, whose newest value
  tells the reports that an answer they kept is out of date;
- participants: the event's people by country and category, and by organisation spelling.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 02:00:00

"""
from alembic import op
import sqlalchemy as sa

from regapp.database import analyze_filled


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OK = sa.text("verdict = 'ok'")
ANNULLED = sa.text("verdict = 'annulled'")

#: (name, table, columns, where)
INDEXES = [
    ('ix_checkins_ok_session', 'checkins',
     ['session_id', 'verdict', 'channel', 'participant_id', 'created_at'], OK),
    ('ix_checkins_ok_participant', 'checkins',
     ['verdict', 'participant_id', 'session_id', 'channel'], OK),
    ('ix_checkins_annulled', 'checkins', ['verdict', 'refers_to_id'], ANNULLED),
    ('ix_registrations_session_status_person', 'registrations',
     ['session_id', 'status', 'participant_id'], None),
    ('ix_registrations_status_person', 'registrations',
     ['status', 'participant_id', 'session_id'], None),
    ('ix_registrations_updated_at', 'registrations', ['updated_at'], None),
    ('ix_participants_event_country', 'participants', ['event_id', 'country', 'category'], None),
    ('ix_participants_event_organisation', 'participants', ['event_id', 'organisation'], None),
]


def upgrade():
    # Plain CREATE INDEX (no batch mode): SQLite adds an index without rebuilding the table.
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)
    analyze_filled(op.get_bind(), 'checkins', 'registrations', 'participants')


def downgrade():
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
