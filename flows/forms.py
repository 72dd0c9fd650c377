"""How flow parameters look in the Prefect UI's run form: types it renders as choices,
patterns it checks before a run is created, and help text. Prefect builds the form from the
flows' signatures, so these annotate them.

The flows themselves run with `validate_parameters=False`: the deployment's schema already
refuses a bad form (the server enforces it when a run is created), and a direct call gets
our own validators' messages, which say what to do, instead of pydantic's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

SHA256_PATTERN = r"^\s*[0-9a-fA-F]{64}\s*$"

SHA256 = Field(
    pattern=SHA256_PATTERN,
    description="The master's sha256: 64 hex characters (content address in the masters bucket).",
)
STAGING_KEY = Field(
    max_length=1024,
    pattern=r"^uploads/.+",
    description="The staged upload, `uploads/{upload_id}/{filename}` (POST /api/uploads).",
)
ASSET = Field(
    description='Optional: link an asset to the master, e.g. {"asset_id": "SHOT_010"}.',
)
REHASH_BUDGET = Field(
    ge=0,
    description="Bytes to re-hash this run (empty: DAILIES_AUDIT_REHASH_BUDGET_BYTES).",
)

# What a deployment may ask for: `auto` tries NVENC and falls back to libx264.
EncoderChoice = Literal["auto", "nvenc", "cpu"]
ENCODER = Field(
    description="auto: NVENC when this worker has a working GPU, else libx264; "
    "nvenc: fail unless NVENC works; cpu: libx264.",
)
