"""The previews bucket refuses anonymous reads once bootstrapped, even where an earlier
bootstrap had opened it: nobody reads a preview but the edge (which signs, SigV4) and the
stack itself. On moto and on a real S3 implementation (Ceph RGW, tests/stores.py)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from dailies.settings import Settings
from ops.bootstrap import PUBLIC_READ_SID, create_buckets
from ops.edge import start_edge
from ops.processes import free_port
from tests.grants import GrantAuth
from tests.stores import both_stores


@both_stores
def test_previews_refuse_anonymous_reads_after_bootstrap(
    store: str, settings: Settings, s3: Any, request: pytest.FixtureRequest
) -> None:
    previews = settings.previews_bucket
    key = f"{request.node.name.encode().hex()[:64]:0<64}/poster.jpg"
    create_buckets(settings)
    s3.put_object(Bucket=previews, Key=key, Body=b"jpeg")
    # A bucket an earlier bootstrap opened to anonymous reads: the next bootstrap closes it.
    public_read = {
        "Sid": PUBLIC_READ_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{previews}/*",
    }
    s3.delete_public_access_block(Bucket=previews)
    s3.put_bucket_policy(
        Bucket=previews, Policy=json.dumps({"Version": "2012-10-17", "Statement": [public_read]})
    )
    assert settings.s3_endpoint_url
    with httpx.Client(base_url=settings.s3_endpoint_url) as anonymous:
        assert anonymous.get(f"/{previews}/{key}").content == b"jpeg"

        create_buckets(settings)

        refused = anonymous.get(f"/{previews}/{key}")
        assert refused.status_code == 403, refused.text
        assert b"jpeg" not in refused.content
        if store != "moto":  # moto answers anonymous listings whatever the policy
            assert anonymous.get(f"/{previews}?list-type=2").status_code == 403
    with pytest.raises(ClientError) as no_policy:
        s3.get_bucket_policy(Bucket=previews)
    assert no_policy.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    # Signed, as the edge and the publisher read it, it is still there.
    assert s3.get_object(Bucket=previews, Key=key)["Body"].read() == b"jpeg"


@both_stores
def test_the_edge_reads_the_private_bucket_with_its_signature(
    store: str, settings: Settings, s3: Any, tmp_path: Path
) -> None:
    """RGW checks signatures (moto does not): a segment through the edge with a grant is
    the object itself, so the edge's SigV4 is one the store accepts."""
    sha = secrets.token_hex(32)
    create_buckets(settings)
    s3.put_object(Bucket=settings.previews_bucket, Key=f"{sha}/360p/v1-00001.m4s", Body=b"seg")
    s3.put_object(Bucket=settings.previews_bucket, Key=f"{sha}/preview.mp4", Body=b"mp4" * 999)
    edge_settings = settings.model_copy(update={"edge_cache_dir": tmp_path / "cache"})
    edge = start_edge(
        edge_settings,
        port=free_port(),
        api_upstream=None,
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "logs",
    )
    try:
        with httpx.Client(base_url=edge.url, auth=GrantAuth(edge_settings)) as reviewer:
            segment = reviewer.get(f"/previews/{sha}/360p/v1-00001.m4s")
            assert (segment.status_code, segment.content) == (200, b"seg"), segment.text
            # preview.mp4 goes through slices: their subrequests are signed too.
            part = reviewer.get(f"/previews/{sha}/preview.mp4", headers={"Range": "bytes=3-8"})
            assert (part.status_code, part.content) == (206, b"mp4mp4")
            assert reviewer.get(f"/previews/{sha}/missing.m4s").status_code == 404
    finally:
        edge.stop()
