"""Bootstrap opens the previews bucket to anonymous reads (what the edge does), and
nothing else."""

from __future__ import annotations

from typing import Any

import httpx

from dailies.settings import Settings
from dailies.stack.bootstrap import create_buckets, public_read_policy
from dailies.stack.processes import Service


def test_the_policy_grants_get_object_only() -> None:
    statements = public_read_policy("previews")["Statement"]
    assert len(statements) == 1
    statement = statements[0]
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == "arn:aws:s3:::previews/*"


def test_anyone_may_read_previews_but_not_other_buckets(
    s3_server: Service, edge_base_settings: Settings, previews_s3: Any, sha: str
) -> None:
    create_buckets(edge_base_settings)  # idempotent: a second run changes nothing
    previews, staging = edge_base_settings.previews_bucket, edge_base_settings.staging_bucket
    previews_s3.put_object(Bucket=previews, Key=f"{sha}/poster.jpg", Body=b"jpeg")
    previews_s3.put_object(Bucket=staging, Key=f"uploads/{sha}/a.mov", Body=b"mov")

    # moto enforces anonymous GetObject (not anonymous listing or writes, which AWS would
    # refuse under this policy; the edge refuses writes itself).
    with httpx.Client(base_url=s3_server.url) as anonymous:
        assert anonymous.get(f"/{previews}/{sha}/poster.jpg").content == b"jpeg"
        assert anonymous.get(f"/{staging}/uploads/{sha}/a.mov").status_code == 403
