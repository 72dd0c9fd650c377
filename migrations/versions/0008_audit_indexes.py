"""indexes for the audit and its findings at a million masters

The audit reads the catalog shard by shard in key order (keyset pages on masters_key,
compared byte by byte as S3 lists keys: "C" collation on Postgres), picks re-hashes
oldest-verified first (last_verified_at, sha256), and the API pages one run's findings by id
(run_id, id), which also serves every lookup by run_id the old index did.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 11:50:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_masters_masters_key ON masters (masters_key COLLATE "C")')
    else:  # SQLite compares TEXT bytewise already
        op.create_index("ix_masters_masters_key", "masters", ["masters_key"])
    op.create_index("ix_masters_last_verified_at_sha256", "masters", ["last_verified_at", "sha256"])
    op.create_index("ix_audit_findings_run_id_id", "audit_findings", ["run_id", "id"])
    op.drop_index("ix_audit_findings_run_id", table_name="audit_findings")


def downgrade() -> None:
    op.create_index("ix_audit_findings_run_id", "audit_findings", ["run_id"])
    op.drop_index("ix_audit_findings_run_id_id", table_name="audit_findings")
    op.drop_index("ix_masters_last_verified_at_sha256", table_name="masters")
    op.drop_index("ix_masters_masters_key", table_name="masters")
