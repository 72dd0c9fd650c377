"""preview start timecode and frame rate; documents attached to assets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_timecode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("frame_rate", sa.String(length=24), nullable=True))
    op.create_table(
        "documents",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("asset_id", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner_key_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.asset_id"],
        ),
        sa.PrimaryKeyConstraint("document_id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_asset_id"))
    op.drop_table("documents")
    with op.batch_alter_table("previews", schema=None) as batch_op:
        batch_op.drop_column("frame_rate")
        batch_op.drop_column("start_timecode")
