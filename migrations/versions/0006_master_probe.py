"""masters.probe: ffprobe's description of a master, taken once at promotion

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 21:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("masters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probe", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("masters", schema=None) as batch_op:
        batch_op.drop_column("probe")
