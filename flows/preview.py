"""Previews: a promoted master becomes HLS (ABR ladder), MP4, poster and storyboard."""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow

from dailies.previews.request import validate_preview_request
from dailies.settings import get_settings
from flows.forms import SHA256, EncoderChoice
from tasks.preview import (
    build_preview_files,
    find_current_preview,
    missing_preview_objects,
    preview_cache_policy,
    queue_preview,
    reach_previews_store,
    record_preview_failure,
    record_ready,
    require_master,
)


@flow(
    name="build-preview",
    flow_run_name="preview-{sha256:.12}-{encoder}",
    validate_parameters=False,
    on_failure=[record_preview_failure],
    on_crashed=[record_preview_failure],
    log_prints=True,
)
def build_preview(
    sha256: Annotated[str, SHA256], encoder: EncoderChoice = "auto"
) -> dict[str, Any]:
    """Build (or find) the previews of one master: HLS ladder, MP4, poster, storyboard.

    Args:
        sha256: The promoted master's sha256, 64 hex characters.
        encoder: auto = NVENC when this worker's GPU works, else libx264; nvenc = fail
            unless NVENC works; cpu = libx264. A cpu pool runs auto as cpu.
    """
    request = validate_preview_request(sha256, encoder, get_settings().preview_encoder)
    reach_previews_store()
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
