"""How flow parameters look in the Prefect UI's run form: types it renders as choices and
patterns it checks before a run is created. Prefect builds the form from the flows'
signatures; the help text under each field comes from the flow docstring's `Args:`.

The flows themselves run with `validate_parameters=False`: the deployment's schema already
refuses a bad form (the server enforces it when a run is created), and a direct call gets
our own validators' messages, which say what to do, instead of pydantic's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

SHA256 = Field(pattern=r"^\s*[0-9a-fA-F]{64}\s*$")
STAGING_KEY = Field(max_length=1024, pattern=r"^uploads/.+")
# What a deployment may ask for: `auto` tries NVENC and falls back to libx264.
EncoderChoice = Literal["auto", "nvenc", "cpu"]
