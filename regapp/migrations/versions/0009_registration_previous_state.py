"""registration previous state

Each registration keeps the status it had before its last change, and when it got it
(``regapp/models/participants.py``), so that the dashboard can tell what it had counted and
bring its figures up to date after a cancellation, a promotion or a change of sessions, instead
of counting every registration of the event again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch mode): SQLite adds a nullable column without rebuilding.
    op.add_column(
        'registrations', sa.Column('previous_status', sa.String(length=20), nullable=True)
    )
    op.add_column('registrations', sa.Column('previous_changed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('registrations') as batch_op:
        batch_op.drop_column('previous_changed_at')
        batch_op.drop_column('previous_status')
