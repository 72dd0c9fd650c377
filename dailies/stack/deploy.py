"""Work pools from work_pools/, deployments from prefect.yaml, the shared result storage block.

Everything goes through Prefect's own client and CLI: pools are Prefect work pools, workers
are `prefect worker` processes, deployments are what `prefect deploy --all` makes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from dailies.settings import Settings
from dailies.stack import PROJECT_DIR

RESULTS_BLOCK = "dailies-results"


def pool_specs(settings: Settings) -> dict[str, dict[str, Any]]:
    """The pools of this environment (deployments/{env}.yaml) with their templates loaded."""
    spec_file = PROJECT_DIR / "deployments" / f"{settings.deploy_env}.yaml"
    pools = yaml.safe_load(spec_file.read_text())["pools"]
    for spec in pools.values():
        spec["base_job_template"] = json.loads((PROJECT_DIR / spec.pop("template")).read_text())
    return dict(pools)


async def ensure_work_pools(settings: Settings) -> dict[str, str]:
    """Create each pool, or update its template and description when it exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.exceptions import ObjectAlreadyExists

    outcome: dict[str, str] = {}
    async with get_client() as client:
        for name, spec in pool_specs(settings).items():
            try:
                await client.create_work_pool(
                    WorkPoolCreate(
                        name=name,
                        type=spec["type"],
                        description=spec.get("description"),
                        base_job_template=spec["base_job_template"],
                        concurrency_limit=spec.get("concurrency_limit"),
                    )
                )
                outcome[name] = "created"
            except ObjectAlreadyExists:
                await client.update_work_pool(
                    name,
                    WorkPoolUpdate(
                        description=spec.get("description"),
                        base_job_template=spec["base_job_template"],
                        concurrency_limit=spec.get("concurrency_limit"),
                    ),
                )
                outcome[name] = "updated"
    return outcome


def save_result_storage_block(settings: Settings) -> str:
    """An S3 bucket block (prefect-aws) so cached task results are shared by all workers."""
    from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

    credentials = AwsCredentials(
        region_name=settings.aws_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=settings.s3_endpoint_url),
    )
    S3Bucket(
        bucket_name=settings.results_bucket,
        bucket_folder="prefect-results",
        credentials=credentials,
    ).save(RESULTS_BLOCK, overwrite=True)
    return f"s3-bucket/{RESULTS_BLOCK}"


def deploy_prefect_yaml(timeout_s: float = 300) -> str:
    """`prefect deploy --all` from the checkout: the same command an operator would run."""
    env = {**os.environ, "DAILIES_PROJECT_DIR": str(PROJECT_DIR)}
    prefect = Path(sys.executable).parent / "prefect"
    done = subprocess.run(
        [str(prefect), "--no-prompt", "deploy", "--all", "--prefect-file", "prefect.yaml"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if done.returncode != 0:
        raise RuntimeError(f"prefect deploy failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done.stdout


AUTOMATIONS_DIR = PROJECT_DIR / "automations"


def automation_specs(directory: Path = AUTOMATIONS_DIR) -> list[dict[str, Any]]:
    """Every automation in automations/*.yaml, in Prefect's own format."""
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


async def apply_automations(specs: list[dict[str, Any]]) -> dict[str, str]:
    """Create each automation, or replace the one of the same name: idempotent, and an
    edited file takes effect on the next bootstrap."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    outcome: dict[str, str] = {}
    async with get_client() as client:
        for spec in specs:
            automation = AutomationCore.model_validate(spec)
            existing = await client.read_automations_by_name(automation.name)
            if existing:
                await client.update_automation(existing[0].id, automation)
                for duplicate in existing[1:]:
                    await client.delete_automation(duplicate.id)
                outcome[automation.name] = "updated"
            else:
                await client.create_automation(automation)
                outcome[automation.name] = "created"
    return outcome
