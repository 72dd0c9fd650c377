"""The one settings object. Names follow shared/CONTRACT.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GiB = 1024**3
MiB = 1024**2


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAILIES_", extra="ignore")

    # S3: boto3 reads AWS_ENDPOINT_URL_S3 itself; we keep it too so the edge and the
    # embedded stack can point at the same endpoint.
    s3_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "DAILIES_S3_ENDPOINT_URL")
    )
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_DEFAULT_REGION", "AWS_REGION")
    )
    staging_bucket: str = "staging"
    masters_bucket: str = "masters"
    previews_bucket: str = "previews"
    docs_bucket: str = "docs"

    home: Path = Path(".dailies")
    database_url: str | None = None
    redis_url: str | None = None

    retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    retention_days: int = Field(default=365, ge=1)

    edge_url: str = "http://127.0.0.1:8080"

    # Promotion: large sequential reads keep hashing near the store's throughput;
    # copies above the threshold go multipart (S3's single CopyObject stops at 5 GiB).
    hash_chunk_bytes: int = Field(default=8 * MiB, ge=64 * 1024)
    multipart_copy_threshold_bytes: int = Field(default=5 * GiB, ge=5 * MiB, le=5 * GiB)
    multipart_copy_part_bytes: int = Field(default=512 * MiB, ge=5 * MiB, le=5 * GiB)
    copy_concurrency: int = Field(default=8, ge=1, le=64)
    # A killed worker's lock must not block a sha forever.
    lock_ttl_s: float = Field(default=3600.0, gt=0)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'dailies.db').resolve()}"

    @property
    def buckets(self) -> dict[str, str]:
        return {
            "staging": self.staging_bucket,
            "masters": self.masters_bucket,
            "previews": self.previews_bucket,
            "docs": self.docs_bucket,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process."""
    return Settings()
