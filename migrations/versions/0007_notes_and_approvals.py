"""notes on a master's frames (with drawings and replies); approvals per reviewer

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("frame_in", sa.Integer(), nullable=False),
        sa.Column("frame_out", sa.Integer(), nullable=True),
        sa.Column("drawing", sa.JSON(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_key_id", sa.Integer(), nullable=False),
        sa.Column("author_name", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("resolved_by_key_id", sa.Integer(), nullable=True),
        sa.Column("resolved_by_name", sa.String(length=255), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["masters.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["notes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notes_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index("ix_notes_sha256_id", ["sha256", "id"], unique=False)
    op.create_table(
        "approvals",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["masters.sha256"],
        ),
        sa.PrimaryKeyConstraint("sha256", "key_id"),
    )


def downgrade() -> None:
    op.drop_table("approvals")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_sha256_id")
        batch_op.drop_index(batch_op.f("ix_notes_parent_id"))
    op.drop_table("notes")
