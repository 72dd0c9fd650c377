"""`dailies bootstrap`: buckets and database schema, idempotently."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from dailies import storage
from dailies.clients import engine, s3_client
from dailies.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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
    return {
        name: storage.ensure_bucket(s3, bucket, object_lock=(name == "masters"))
        for name, bucket in settings.buckets.items()
    }


def bootstrap(settings: Settings, deploy: bool = False) -> dict[str, object]:
    """Buckets and migrations; with deploy=True also work pools, the result storage block
    and every deployment in prefect.yaml (needs a Prefect server: PREFECT_API_URL)."""
    created = create_buckets(settings)
    migrate(settings)
    report: dict[str, object] = {
        "buckets_created": [n for n, made in created.items() if made],
        "migrated": True,
    }
    if deploy:
        from prefect.utilities.asyncutils import run_coro_as_sync

        from dailies.deploy import deploy_prefect_yaml, ensure_work_pools, save_result_storage_block

        report["work_pools"] = run_coro_as_sync(ensure_work_pools(settings))
        report["result_storage"] = save_result_storage_block(settings)
        deploy_prefect_yaml()
        report["deployed"] = True
    return report
