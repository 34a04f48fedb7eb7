"""drop redundant participant indexes

Every query of the participants names its event, and each of the three single-column
indexes below is the leading part of a wider one that serves the same queries as well or
better: ``event_id`` leads ``uq_participants_event_email`` and the report and list indexes
(the events' ``ON DELETE CASCADE`` finds an event's people through those too), ``country``
and ``organisation`` follow ``event_id`` in the report indexes. Yet every registration and
every check-in wrote an entry in each: on PostgreSQL a change to the attendance masks (a
registration, an ``ok`` scan) is not a HOT update, because the masks are in the report
indexes, so each such change writes an entry in every index of the table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COLUMNS = ('event_id', 'country', 'organisation')


def upgrade():
    # Plain DROP INDEX (no batch mode): SQLite drops an index without rebuilding the table.
    for column in COLUMNS:
        op.drop_index(f'ix_participants_{column}', table_name='participants')


def downgrade():
    for column in COLUMNS:
        op.create_index(f'ix_participants_{column}', 'participants', [column])
