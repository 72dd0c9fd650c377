"""What `dailies bootstrap` sets on the buckets, read back from the store."""

from __future__ import annotations

from typing import Any


def test_staging_aborts_abandoned_multipart_uploads(stack: Any, s3: Any) -> None:
    rules = s3.get_bucket_lifecycle_configuration(Bucket=stack.staging_bucket)["Rules"]
    abort = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert len(abort) == 1 and abort[0]["Status"] == "Enabled"
    assert abort[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == (
        stack.staging_abort_incomplete_days
    )
    assert abort[0]["Filter"]["Prefix"] == "uploads/"
    # Only incomplete uploads: no expiry of completed objects in staging.
    assert not any("Expiration" in r for r in rules)


def test_masters_are_versioned_and_object_locked(stack: Any, s3: Any) -> None:
    lock = s3.get_object_lock_configuration(Bucket=stack.masters_bucket)
    assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    assert s3.get_bucket_versioning(Bucket=stack.masters_bucket)["Status"] == "Enabled"


def test_documents_are_private_and_writable_from_the_review_page(stack: Any, s3: Any) -> None:
    block = s3.get_public_access_block(Bucket=stack.docs_bucket)["PublicAccessBlockConfiguration"]
    assert (
        block["BlockPublicPolicy"] and block["RestrictPublicBuckets"] and block["IgnorePublicAcls"]
    )
    (rule,) = s3.get_bucket_cors(Bucket=stack.docs_bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == ["/".join(stack.edge_url.split("/")[:3])]
    assert sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
