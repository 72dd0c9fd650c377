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
from ops import PROJECT_DIR
from ops.errors import ImageNotConfigured

RESULTS_BLOCK = "dailies-results"


# The prefect file that builds and pushes the image (Dockerfile): it needs DAILIES_IMAGE.
CONTAINERS_FILE = "prefect.containers.yaml"


def environment_spec(settings: Settings) -> dict[str, Any]:
    """deployments/{DAILIES_DEPLOY_ENV}.yaml: the environment's pools and prefect files."""
    spec_file = PROJECT_DIR / "deployments" / f"{settings.deploy_env}.yaml"
    spec: dict[str, Any] = yaml.safe_load(spec_file.read_text())
    return spec


def prefect_files(settings: Settings) -> list[str]:
    """What `prefect deploy --all` reads for this environment, in order: a later file's
    deployment replaces an earlier one of the same name."""
    return list(environment_spec(settings).get("prefect_files", ["prefect.yaml"]))


def pool_specs(settings: Settings) -> dict[str, dict[str, Any]]:
    """The pools of this environment (deployments/{env}.yaml) with their templates loaded."""
    pools = environment_spec(settings)["pools"]
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


async def set_pool_paused(settings: Settings, name: str, paused: bool, why: str = "") -> None:
    """Pause a pool (its description then says `why`) or resume it with its own description:
    a pool no worker can serve shows paused in the UI, not red, and the API routes around
    it (a paused gpu pool sends previews to preview-cpu)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate

    description = pool_specs(settings)[name].get("description") or ""
    if paused:
        description = f"PAUSED: {why}" + (f" {description}" if description else "")
    async with get_client() as client:
        await client.update_work_pool(
            name, WorkPoolUpdate(is_paused=paused, description=description)
        )


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


def deploy_prefect_yaml(settings: Settings, timeout_s: float = 600) -> str:
    """`prefect deploy --all` from the checkout for each of the environment's prefect files:
    the same commands an operator would run."""
    env = dict(os.environ)
    files = prefect_files(settings)
    if CONTAINERS_FILE in files:
        if not settings.image:
            raise ImageNotConfigured(settings.deploy_env)
        env["DAILIES_IMAGE"] = settings.image
    prefect = Path(sys.executable).parent / "prefect"
    output = []
    for prefect_file in files:
        done = subprocess.run(
            [str(prefect), "--no-prompt", "deploy", "--all", "--prefect-file", prefect_file],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"prefect deploy ({prefect_file}) failed:\n"
                f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        output.append(done.stdout)
    return "\n".join(output)


AUTOMATIONS_DIR = PROJECT_DIR / "automations"


def automation_specs(directory: Path = AUTOMATIONS_DIR) -> list[dict[str, Any]]:
    """Every automation in automations/*.yaml, in Prefect's own format."""
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


# `block_document_id: "block:NAME"` in automations/*.yaml: the block of that name, whatever
# its type, so the files name a block an operator creates instead of a server's UUID.
BLOCK_REFERENCE = "block:"


async def apply_automations(specs: list[dict[str, Any]]) -> dict[str, str]:
    """Create each automation, or replace the one of the same name: idempotent, and an
    edited file takes effect on the next bootstrap. One that names a block which does not
    exist is skipped (and says which)."""
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    outcome: dict[str, str] = {}
    async with get_client() as client:
        blocks = {block.name: block.id for block in await client.read_block_documents()}
        for spec in specs:
            missing = _resolve_block_references(spec, blocks)
            if missing:
                outcome[spec["name"]] = f"skipped: no block named {', '.join(missing)}"
                continue
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


def _resolve_block_references(spec: dict[str, Any], blocks: dict[str | None, Any]) -> list[str]:
    """Replace each action's "block:NAME" with that block's id, in place; the names that
    have no block."""
    missing = []
    for action in spec.get("actions", []):
        reference = action.get("block_document_id")
        if isinstance(reference, str) and reference.startswith(BLOCK_REFERENCE):
            name = reference.removeprefix(BLOCK_REFERENCE)
            if name in blocks:
                action["block_document_id"] = str(blocks[name])
            else:
                missing.append(name)
    return missing
