"""staff, devices, check-ins

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:37:47.092575

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_staff_users_email', 'staff_users', [sa.text('lower(email)')], unique=True)
    op.create_table('device_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('device_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_tokens_event_id'), ['event_id'], unique=False)

    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('verdict', sa.String(length=24), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('scanned', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('gate', sa.String(length=80), nullable=False),
    sa.Column('nonce', sa.String(length=80), nullable=True),
    sa.Column('refers_to_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['device_tokens.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['refers_to_id'], ['checkins.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['event_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nonce')
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkins_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkins_refers_to_id'), ['refers_to_id'], unique=False)
        batch_op.create_index('ix_checkins_session_participant', ['session_id', 'participant_id', 'verdict'], unique=False)
        batch_op.create_index('ix_checkins_session_time', ['session_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkins_staff_user_id'), ['staff_user_id'], unique=False)

    with op.batch_alter_table('event_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_opens_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('checkin_closes_at', sa.DateTime(), nullable=True))

    # Every participant gets the secret of their join links; existing ones too.
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('join_token', sa.String(length=64), nullable=True))
    participants = sa.table('participants', sa.column('id', sa.Integer), sa.column('join_token'))
    connection = op.get_bind()
    for (participant_id,) in connection.execute(sa.select(participants.c.id)).all():
        connection.execute(
            participants.update()
            .where(participants.c.id == participant_id)
            .values(join_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.alter_column('join_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index('uq_participants_join_token', ['join_token'], unique=True)
    # On SQLite the batch above rebuilt the table, and with it every index it could reflect:
    # not the expression index on lower(email). Make sure it is there.
    op.execute(
        'CREATE UNIQUE INDEX IF NOT EXISTS uq_participants_event_email '
        'ON participants (event_id, lower(email))'
    )

def downgrade():
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index('uq_participants_join_token')
        batch_op.drop_column('join_token')
    op.execute(
        'CREATE UNIQUE INDEX IF NOT EXISTS uq_participants_event_email '
        'ON participants (event_id, lower(email))'
    )

    with op.batch_alter_table('event_sessions', schema=None) as batch_op:
        batch_op.drop_column('checkin_closes_at')
        batch_op.drop_column('checkin_opens_at')

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkins_staff_user_id'))
        batch_op.drop_index('ix_checkins_session_time')
        batch_op.drop_index('ix_checkins_session_participant')
        batch_op.drop_index(batch_op.f('ix_checkins_refers_to_id'))
        batch_op.drop_index(batch_op.f('ix_checkins_participant_id'))

    op.drop_table('checkins')
    with op.batch_alter_table('device_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_tokens_event_id'))

    op.drop_table('device_tokens')
    op.drop_index('uq_staff_users_email', table_name='staff_users')
    op.drop_table('staff_users')

