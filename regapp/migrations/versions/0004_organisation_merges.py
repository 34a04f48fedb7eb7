"""organisation merges

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:44:50.989296

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('organisation_merges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('canonical', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['staff_users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('organisation_merges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_merges_event_id'), ['event_id'], unique=False)

    op.create_table('organisation_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merge_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('variant_key', sa.String(length=200), nullable=False),
    sa.Column('canonical', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merge_id'], ['organisation_merges.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'variant_key', name='uq_organisation_aliases')
    )
    with op.batch_alter_table('organisation_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_aliases_merge_id'), ['merge_id'], unique=False)




def downgrade():
    with op.batch_alter_table('organisation_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_aliases_merge_id'))

    op.drop_table('organisation_aliases')
    with op.batch_alter_table('organisation_merges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_merges_event_id'))

    op.drop_table('organisation_merges')

