"""Promotion: a staged upload becomes a write-once, content-addressed master."""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow

from dailies.promotion_rules import validate_promotion_request
from flows.forms import SHA256, STAGING_KEY
from tasks.promotion import (
    copy_to_masters,
    find_master,
    hash_staging_object,
    master_copy_cache_policy,
    probe_master,
    publish_first_poster,
    quarantine_mismatch,
    record_already_promoted,
    record_failed_attempt,
    record_promotion,
    secure_master,
)


@flow(
    name="promote-master",
    flow_run_name="promote-{sha256:.12}",
    validate_parameters=False,
    on_failure=[record_failed_attempt],
    on_crashed=[record_failed_attempt],
    log_prints=True,
)
def promote_master(
    staging_key: Annotated[str, STAGING_KEY],
    sha256: Annotated[str, SHA256],
    asset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Verify a staged master's sha256 and copy it into the Object-Locked masters bucket.

    Args:
        staging_key: The staged upload, `uploads/{upload_id}/{filename}`, as
            POST /api/uploads named it.
        sha256: The sha256 the editor computed, 64 hex characters; a mismatch quarantines
            the upload and promotes nothing.
        asset: Optional asset to link to the master, e.g. {"asset_id": "SHOT_010"}.
    """
    request = validate_promotion_request(staging_key, sha256)
    staged = hash_staging_object(request)
    quarantine_mismatch(request, staged)
    if find_master(request.sha256) is not None:
        return record_already_promoted(request, asset)

    copy = copy_to_masters.with_options(cache_policy=master_copy_cache_policy())
    secured = secure_master(copy(request, staged))
    if secured is None:  # the cached copy outlived its object: copy afresh
        secured = secure_master(copy.with_options(refresh_cache=True)(request, staged))
    if secured is None:
        raise RuntimeError(f"masters object for {request.sha256} vanished right after copy")
    probe = probe_master(secured)
    promoted = record_promotion(request, secured, asset, probe)
    # After the row (the promotion itself); a page opened on this master shows it at once.
    publish_first_poster(secured, probe)
    return promoted
