"""Previews: a promoted master becomes HLS (ABR ladder), MP4, poster and storyboard."""

from __future__ import annotations

from typing import Any

from prefect import flow

from dailies.preview_rules import validate_preview_request
from tasks.preview import (
    build_preview_files,
    find_current_preview,
    missing_preview_objects,
    preview_cache_policy,
    queue_preview,
    record_preview_failure,
    record_ready,
    require_master,
)


@flow(
    name="build-preview",
    on_failure=[record_preview_failure],
    on_crashed=[record_preview_failure],
    log_prints=True,
)
def build_preview(sha256: str, encoder: str = "auto") -> dict[str, Any]:
    """Build (or find) the previews of one master; `encoder` is auto, nvenc or cpu."""
    request = validate_preview_request(sha256, encoder)
    master = require_master(request.sha256)
    current = find_current_preview(request.sha256)
    if current is not None:
        return current
    queue_preview(request)
    build = build_preview_files.with_options(cache_policy=preview_cache_policy())
    state = build(request, master, return_state=True)
    if state.name == "Cached" and missing_preview_objects(state.result()):
        # the cached result outlived its objects: build afresh
        state = build.with_options(refresh_cache=True)(request, master, return_state=True)
    return record_ready(state.result(), cache_hit=state.name == "Cached")
