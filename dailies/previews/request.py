"""What a preview flow run may be asked to do (pure): a well-formed sha and an encoder the
worker's pool can run. Worker-side: it knows the encoders (dailies/media)."""

from __future__ import annotations

from dataclasses import dataclass

from dailies.errors import InvalidRequest
from dailies.hashing import normalize_sha256
from dailies.media.encoders import validate_encoder_request


@dataclass(frozen=True)
class PreviewRequest:
    sha256: str
    encoder: str  # auto, nvenc or cpu


def validate_preview_request(
    sha256: str, encoder: str = "auto", pool_encoder: str | None = None
) -> PreviewRequest:
    """A well-formed request this worker can serve. `pool_encoder` is what the worker's
    pool is for (DAILIES_PREVIEW_ENCODER): a cpu pool runs `auto` as `cpu` (no GPU probe)
    and refuses `nvenc` before anything slow starts."""
    sha, requested = normalize_sha256(sha256), validate_encoder_request(encoder)
    if pool_encoder == "cpu":
        if requested == "nvenc":
            raise InvalidRequest(
                "encoder nvenc was asked of a cpu pool worker, which has no NVENC: run the "
                "preview-gpu deployment, or ask for auto or cpu"
            )
        requested = "cpu"
    return PreviewRequest(sha, requested)
