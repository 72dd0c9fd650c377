"""`dailies bootstrap`: buckets and database schema, idempotently."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from alembic.config import Config

from dailies.clients import engine, s3_client
from dailies.settings import Settings
from dailies.stack import PROJECT_DIR
from dailies.storage.objects import ensure_bucket

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
    allow_anonymous_reads(s3, settings.previews_bucket)
    abort_abandoned_uploads(s3, settings.staging_bucket, settings.staging_abort_incomplete_days)
    return created


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


def public_read_policy(bucket: str) -> dict[str, Any]:
    """GetObject for anyone, nothing else: no listing, so S3 answers 403 (not 404) for a
    missing key, which the edge turns into 404."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EdgeAnonymousRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }


def allow_anonymous_reads(s3: Any, bucket: str) -> None:
    """The edge fetches previews unsigned. New AWS buckets block public policies by default,
    so lift that for this bucket's policy only (public ACLs stay blocked)."""
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_read_policy(bucket)))


def bootstrap(settings: Settings, deploy: bool = False) -> dict[str, object]:
    """Buckets and migrations; with deploy=True also work pools, automations/, the result
    storage block and every deployment in prefect.yaml (needs a Prefect server)."""
    created = create_buckets(settings)
    migrate(settings)
    report: dict[str, object] = {
        "buckets_created": [n for n, made in created.items() if made],
        "migrated": True,
    }
    if deploy:
        from prefect.utilities.asyncutils import run_coro_as_sync

        from dailies.stack.deploy import (
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
