"""participant list index

The organisers' participant list (``regapp/participants/services.py``: ``participant_page``)
shows an event's people by ``lower(full_name), id``, a page at a time. With this index both
databases read a page straight from the index in that order, instead of sorting every
participant of the event (100,000 at the largest events) for each page; the badge run uses
the same order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 02:00:00

"""
from alembic import op
import sqlalchemy as sa

from regapp.database import analyze_filled


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX (no batch mode): SQLite adds an index without rebuilding the table.
    op.create_index(
        'ix_participants_event_name',
        'participants',
        ['event_id', sa.text('lower(full_name)'), 'id'],
    )
    analyze_filled(op.get_bind(), 'participants')


def downgrade():
    op.drop_index('ix_participants_event_name', table_name='participants')
