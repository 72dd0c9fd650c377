"""The one settings object. docs/CONTRACT.md lists every setting, generated from this class
(the comment above a group of fields is its description there)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

GiB = 1024**3
MiB = 1024**2


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAILIES_", extra="ignore")

    # S3: boto3 reads AWS_ENDPOINT_URL_S3 itself; we keep it too so the edge and the
    # embedded stack can point at the same endpoint.
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "DAILIES_S3_ENDPOINT_URL"),
    )
    aws_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("AWS_DEFAULT_REGION", "AWS_REGION")
    )
    staging_bucket: str = "staging"
    masters_bucket: str = "masters"
    previews_bucket: str = "previews"
    docs_bucket: str = "docs"
    # Prefect's cached task results, shared by every worker (an S3Bucket block points here).
    results_bucket: str = "prefect-results"

    # Where local state lives: the embedded stack, lock files, the grant secret.
    home: Path = Path(".dailies")
    # Which deployments/{deploy_env}.yaml lists the work pools bootstrap creates.
    deploy_env: str = "local"
    # The image repository (registry included) that container environments build and push
    # (prefect.containers.yaml), e.g. ghcr.io/acme/dailies; compose.yaml tags its build so too.
    image: str | None = None

    # The database (masters, previews, uploads, tokens): a SQLAlchemy URL, Postgres through
    # psycopg 3 (postgresql+psycopg://…); unset: a SQLite file under home.
    database_url: str | None = None
    # Redis for locks, single-flight and rate limits; unset: in-process equivalents (one
    # machine only).
    redis_url: str | None = None

    # Object Lock on masters: the mode and how many days each version is retained.
    retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = "COMPLIANCE"
    retention_days: int = Field(default=365, ge=1)

    # The edge's public base URL, as reviewers reach it (manifest URLs point here).
    edge_url: str = "http://127.0.0.1:8080"
    # The edge (ops/edge.py, edge/nginx.conf.template): where it listens, where its
    # cache lives (None: {home}/edge-cache) and how big that may grow (nginx size syntax).
    edge_host: str = "127.0.0.1"
    edge_port: int = Field(default=8080, ge=1, le=65535)
    edge_cache_dir: Path | None = None
    edge_cache_max_size: str = Field(default="10g", pattern=r"^\d+[kmgKMG]?$")
    # How long the edge keeps a playlist: a building (EVENT) playlist grows every segment.
    edge_playlist_ttl_s: int = Field(default=1, ge=1)

    # Promotion hashes the staged object as ranged GETs of hash_part_bytes, up to
    # hash_parts_in_flight of them held at once (fetching, or waiting their turn to be hashed,
    # in order): one GET stream runs far below sha256's speed on a real store, and memory
    # stays within their product whatever the master's size. The audit's re-hash streams
    # one GET in chunks of hash_chunk_bytes. Copies above the threshold go multipart (S3's
    # single CopyObject stops at 5 GiB).
    hash_part_bytes: int = Field(default=16 * MiB, ge=64 * 1024, le=1 * GiB)
    hash_parts_in_flight: int = Field(default=8, ge=1, le=64)
    hash_chunk_bytes: int = Field(default=8 * MiB, ge=64 * 1024)
    multipart_copy_threshold_bytes: int = Field(default=5 * GiB, ge=5 * MiB, le=5 * GiB)
    multipart_copy_part_bytes: int = Field(default=512 * MiB, ge=5 * MiB, le=5 * GiB)
    copy_concurrency: int = Field(default=8, ge=1, le=64)
    # How long one server-side copy request (a part, or a whole object up to the threshold)
    # may take to answer: the store answers when the bytes are copied.
    copy_timeout_s: float = Field(default=900.0, ge=1)
    # Locks are leases renewed while their holder lives: a killed worker's lock lapses
    # within this many seconds instead of blocking a sha forever.
    lock_lease_s: float = Field(default=30.0, ge=1)

    # Preview builds (flows/preview.py). Tests set the fastest x264 preset.
    ffmpeg_bin: str = "ffmpeg"
    ffprobe_bin: str = "ffprobe"
    x264_preset: str = "veryfast"
    # What this worker's pool can encode with (its base job template sets it): `cpu` pools
    # refuse `nvenc` at once and never probe for a GPU. Unset: anything goes.
    preview_encoder: Literal["auto", "nvenc", "cpu"] | None = None
    nvenc_preset: str = Field(default="p4", pattern=r"^p[1-7]$")
    # Where masters are copied for encoding (None: the system temp dir); or read them
    # straight from a presigned URL with preview_master_via="url" (no local copy).
    scratch_dir: Path | None = None
    preview_master_via: Literal["scratch", "url"] = "scratch"
    # Publish a stream-copy rendition first when the master is already browser-friendly.
    preview_stream_copy: bool = True
    preview_publish_interval_s: float = Field(default=0.5, gt=0)
    # The first rendition (tasks/first_rendition.py) by a running task worker on a 404 trigger;
    # off = the deployment alone (what bench/first_play.py compares against). Both settings
    # of the first rendition still read their old names (…FIRST_PLAY…).
    preview_first_rendition: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "DAILIES_PREVIEW_FIRST_RENDITION", "DAILIES_PREVIEW_FIRST_PLAY"
        ),
    )
    # How often the first rendition looks for finished segments (a local directory listing):
    # each poll's wait is added to a reviewer's first frame.
    first_rendition_publish_interval_s: float = Field(
        default=0.05,
        gt=0,
        validation_alias=AliasChoices(
            "DAILIES_FIRST_RENDITION_PUBLISH_INTERVAL_S", "DAILIES_FIRST_PLAY_PUBLISH_INTERVAL_S"
        ),
    )
    # Niceness of the work-pool workers `dailies up` starts (their flow runs and ffmpeg
    # inherit it): on a shared host the ladder is batch work and yields the CPU to the
    # first rendition and the API, which a reviewer is waiting on. 0 = no preference.
    worker_nice: int = Field(default=10, ge=0, le=19)
    # How long POST /api/preview waits for a playable multivariant playlist before answering 202.
    preview_wait_s: float = Field(default=8.0, ge=0, le=25)
    # How often a building ladder reports progress (the previews row and a Prefect artifact).
    preview_progress_interval_s: float = Field(default=2.0, gt=0)
    # Each ffmpeg run of a build is killed after max(floor, per-second x master duration):
    # a hung encode fails with a reason instead of holding its sha's lock forever.
    preview_ffmpeg_timeout_floor_s: float = Field(default=300.0, gt=0)
    preview_ffmpeg_timeout_per_media_s: float = Field(default=10.0, ge=0)

    # API: uploads. S3 allows 10,000 parts of 5 MiB..5 GiB and objects up to 5 TiB.
    # Multipart uploads left incomplete this long are aborted by the staging bucket itself.
    staging_abort_incomplete_days: int = Field(default=7, ge=1)
    max_upload_bytes: int = Field(default=1024 * GiB, ge=1, le=5 * 1024 * GiB)
    upload_part_bytes: int = Field(default=64 * MiB, ge=5 * MiB, le=5 * GiB)
    upload_url_expiry_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Presigned part URLs per call: a 1 TiB upload must not cost seconds of CPU and megabytes
    # of answer up front; clients ask for the next page as they go.
    upload_parts_page: int = Field(default=100, ge=1, le=10_000)
    # Documents attached to assets (docs bucket): size cap, accepted types, URL lifetimes.
    # Opening one is a short-lived presigned GET: a leaked link stops working within minutes.
    docs_max_bytes: int = Field(default=200 * MiB, ge=1, le=5 * GiB)
    docs_content_types: list[str] = [
        "application/pdf", "text/plain", "text/csv", "image/jpeg", "image/png",
        "application/octet-stream",  # LUTs (.cube, .3dl) and camera reports of many kinds
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ]  # fmt: skip
    docs_upload_expiry_s: int = Field(default=900, ge=60, le=24 * 3600)
    docs_open_expiry_s: int = Field(default=120, ge=10, le=3600)
    # API: how long a token lookup is reused in-process; a revocation takes effect within it.
    auth_cache_ttl_s: float = Field(default=5.0, ge=0)
    # API: concurrent database sessions of async routes; under the engine's pool_size (10)
    # so a burst queues in the API instead of opening (and closing) overflow connections.
    api_db_concurrency: int = Field(default=8, ge=1)
    # API: per-token fixed-window rate limit.
    rate_limit_requests: int = Field(default=1200, ge=1)
    rate_limit_window_s: int = Field(default=60, ge=1)
    # Preview grants (dailies/grant_rules.py): POST /api/preview hands the reviewer a grant
    # for one sha that the edge checks itself; it lasts this long. The player renews it
    # before it lapses (and on a 403), so this is also how long a revoked token's grants
    # keep serving: the edge knows no tokens. The key: this setting, else a random one kept
    # in {home}/grant-secret.
    preview_grant_ttl_s: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    # At least 16 characters: an empty or short key would sign grants anyone can forge.
    preview_grant_secret: SecretStr | None = Field(default=None, min_length=16)
    # API: preview triggers (the edge's 404 path): one launch per sha within the single-flight
    # TTL, the Retry-After answered, and failed builds re-launched after base, 2·base, … max.
    preview_single_flight_ttl_s: int = Field(default=30, ge=1)
    preview_retry_after_s: int = Field(default=5, ge=1)
    preview_retry_base_s: int = Field(default=30, ge=1)
    preview_retry_max_s: int = Field(default=3600, ge=1)
    # A promotion that failed (a wrong sha256, say) may be re-posted after base, 2·base, …
    promotion_retry_base_s: int = Field(default=30, ge=1)
    promotion_retry_max_s: int = Field(default=3600, ge=1)
    # The liveness sweep (dailies/previews/liveness.py), run by every API replica this often
    # (0: not by this one): a queued/building row quiet for preview_recheck_after_s gets its
    # flow run's state checked, since crashed runs never update the row themselves.
    preview_sweep_interval_s: float = Field(default=15, ge=0)
    # Every API replica this often (0: not this one) names the waiting runs the UI, a
    # schedule or `prefect deployment run` created as their flows will (dailies/run_names.py).
    run_naming_interval_s: float = Field(default=5, ge=0)
    # The sweep relaunches a dead run while the preview has had fewer attempts than this;
    # then it fails the row (the next request launches again, after the back-off).
    preview_sweep_max_attempts: int = Field(default=5, ge=1)
    preview_recheck_after_s: int = Field(default=120, ge=1)
    # A build whose previews row has not moved for this long is dead (its host is gone):
    # the sweep marks its run Crashed and launches a new attempt.
    preview_stall_s: float = Field(default=300, gt=0)
    # A run's worker silent (no heartbeat) for this long, and for three of its heartbeat
    # intervals, has lost its host: its runs are relaunched without waiting out the stall.
    # A busy host's worker can miss a few heartbeats while its runs are healthy.
    preview_worker_lost_s: float = Field(default=60, gt=0)
    # ...and only when the run's own process has sent no heartbeat for this long either: a
    # run outlives a worker that is restarted (deploy, OOM kill). Flow runs beat every 30 s
    # (prefect.yaml's run_env; Prefect's minimum), so 2.5 beats.
    preview_run_silent_s: float = Field(default=75, gt=0)
    # Deployments the API launches (flow-name/deployment-name) and the pool that has GPUs.
    promote_deployment: str = "promote-master/promote-master"
    preview_gpu_deployment: str = "build-preview/preview-gpu"
    preview_cpu_deployment: str = "build-preview/preview-cpu"
    audit_deployment: str = "integrity-audit/integrity-audit"
    gpu_work_pool: str = "gpu"

    # Audit: re-hash at least this many bytes a run, more if needed so that every master is
    # re-verified within audit_reverify_days; HEADs and hashes run in batches of this size.
    audit_rehash_budget_bytes: int = Field(default=10 * GiB, ge=0)
    audit_reverify_days: int = Field(default=30, ge=1)
    audit_batch_size: int = Field(default=1000, ge=1)
    audit_head_concurrency: int = Field(default=32, ge=1, le=256)
    audit_rehash_concurrency: int = Field(default=4, ge=1, le=64)
    # threads (default), or dask / ray when prefect-dask / prefect-ray are installed.
    audit_task_runner: Literal["threads", "dask", "ray"] = "threads"
    # The key space is cut at hex prefixes into this many shards (1, 16, 256 or 4096), a
    # Prefect task each: a streamed merge of the shard's ListObjectVersions pages (this many
    # keys a page, at most S3's 1000) and its catalog rows in keyset pages of audit_batch_size.
    audit_shards: Literal["1", "16", "256", "4096"] = "16"
    audit_list_page_size: int = Field(default=1000, ge=1, le=1000)
    # Retention without a HEAD per master: the bucket's Object Lock is read once a run, each
    # recorded retention is compared with the configured one, and a HEAD goes to a rolling
    # sample (this percent a night: every master within 100/percent nights), to every master
    # whose recorded retention ends within audit_retention_near_days, and to the re-hash picks.
    audit_retention_sample_percent: float = Field(default=1.0, gt=0, le=100)
    audit_retention_near_days: int = Field(default=30, ge=0)

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
            "results": self.results_bucket,
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process."""
    return Settings()
