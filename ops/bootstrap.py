"""`dailies bootstrap`: buckets and database schema, idempotently."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from alembic.config import Config
from botocore.exceptions import ClientError

from dailies.clients import engine, s3_client
from dailies.grant_secret import grant_secret
from dailies.settings import Settings
from dailies.storage.objects import ensure_bucket
from ops import PROJECT_DIR

MIGRATIONS = PROJECT_DIR / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # '%' is alembic's interpolation character; URLs may contain it (encoded passwords).
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
    return config


def migrate(settings: Settings) -> None:
    config = alembic_config(settings)
    with engine(settings).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def create_buckets(settings: Settings) -> dict[str, bool]:
    s3 = s3_client(settings)
    created = {
        name: ensure_bucket(s3, bucket, object_lock=(name == "masters"))
        for name, bucket in settings.buckets.items()
    }
    keep_private(s3, settings.previews_bucket)
    abort_abandoned_uploads(s3, settings.staging_bucket, settings.staging_abort_incomplete_days)
    documents_bucket(s3, settings.docs_bucket, settings.edge_url)
    return created


def documents_bucket(s3: Any, bucket: str, edge_url: str) -> None:
    """Documents are read only through presigned GETs the API makes for reviewers: nothing
    public, ever. CORS lets the review page's origin (the edge) PUT an editor's upload and
    fetch a document from a browser."""
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,  # see keep_private: ignoring them keeps it private
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    origin = "/".join(edge_url.rstrip("/").split("/")[:3])
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [origin],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["content-type"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )


def abort_abandoned_uploads(s3: Any, bucket: str, days: int) -> None:
    """Parts of an upload nobody completes are stored (and billed) until aborted: let the
    store abort them. Completed objects are untouched."""
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "dailies-abort-abandoned-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "uploads/"},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
                }
            ]
        },
    )


# The statement bootstrap once put on the previews bucket (anonymous GetObject for the edge).
PUBLIC_READ_SID = "EdgeAnonymousRead"


def keep_private(s3: Any, bucket: str) -> None:
    """The edge signs its reads (SigV4), so nobody else reads previews without a grant:
    block public policies, ignore public ACLs, and take back the public-read statement an
    earlier bootstrap put there (any other statement an operator added stays)."""
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            # Public ACLs are ignored, which keeps the bucket private; refusing requests that
            # carry one would too, but Ceph RGW (16.2) then refuses the publisher's plain
            # PutObject as well.
            "BlockPublicAcls": False,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return
        raise
    kept = without_public_read(policy)
    if kept == policy:
        return
    if kept["Statement"]:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(kept))
    else:
        s3.delete_bucket_policy(Bucket=bucket)


def without_public_read(policy: dict[str, Any]) -> dict[str, Any]:
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return {**policy, "Statement": [s for s in statements if s.get("Sid") != PUBLIC_READ_SID]}


def bootstrap(settings: Settings, deploy: bool = False) -> dict[str, object]:
    """Buckets and migrations; with deploy=True also work pools, automations/, the result
    storage block and every deployment in prefect.yaml (needs a Prefect server)."""
    created = create_buckets(settings)
    migrate(settings)
    grant_secret(settings)  # made now, so the API and the edge started later share it
    report: dict[str, object] = {
        "buckets_created": [n for n, made in created.items() if made],
        "migrated": True,
    }
    if deploy:
        from prefect.utilities.asyncutils import run_coro_as_sync

        from ops.deploy import (
            apply_automations,
            automation_specs,
            deploy_prefect_yaml,
            ensure_work_pools,
            save_result_storage_block,
        )

        report["work_pools"] = run_coro_as_sync(ensure_work_pools(settings))
        report["automations"] = run_coro_as_sync(apply_automations(automation_specs()))
        report["result_storage"] = save_result_storage_block(settings)
        deploy_prefect_yaml(settings)
        report["deployed"] = True
    return report
