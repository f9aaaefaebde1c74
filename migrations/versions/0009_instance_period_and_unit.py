"""instance period and unit: list filters without reading state JSON

period and unit_code are copied from the start data by engine.services.instances.start_in_session;
instances started before this revision keep NULL (their state is not parsed here).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 23:08:18.090714

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_completed_by', ['completed_by_id'], unique=False)

    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('period', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('unit_code', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_process_instance_period', ['period'], unique=False)
        batch_op.create_index('ix_process_instance_unit_code', ['unit_code'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_unit_code')
        batch_op.drop_index('ix_process_instance_period')
        batch_op.drop_column('unit_code')
        batch_op.drop_column('period')

    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_completed_by')

