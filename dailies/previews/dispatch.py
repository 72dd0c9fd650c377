"""Starting a preview's work: the first rendition as a Prefect task that running task workers
serve (its key and signature live here), the ladder by its deployment's name. The API and the
liveness sweep start work through here only, and import nothing from tasks/, media/ or
flows/: the code that does the work lives on the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient

from dailies import runs
from dailies.settings import Settings

FIRST_RENDITION_TASK = "first-rendition"
_implementation: Callable[[str], dict[str, Any]] | None = None


def first_rendition(sha256: str) -> dict[str, Any]:
    """The first rendition's task function, run by a task worker as the implementation
    tasks/first_rendition.py registered there. Prefect knows a task by a hash of its function's
    code, so the API that submits and the worker that serves share this one function; the
    work itself (ffmpeg, media/) stays on the worker."""
    if _implementation is None:
        raise RuntimeError(
            "no first-rendition implementation in this process: task workers serve "
            "tasks/first_rendition.py:publish_first_rendition"
        )
    return _implementation(sha256)


def implement_first_rendition(implementation: Callable[[str], dict[str, Any]]) -> None:
    global _implementation
    _implementation = implementation


FIRST_RENDITION = Task(
    first_rendition,
    name=FIRST_RENDITION_TASK,
    task_run_name="first-rendition-{sha256:.12}",
    cache_policy=NO_CACHE,
    retries=0,  # the ladder's deployment, launched next, is the retry
)


def submit_first_rendition(sha256: str) -> None:
    """Hand the first rendition to a running task worker (blocking: call it in a thread)."""
    FIRST_RENDITION.delay(sha256)


async def launch_ladder(
    prefect: PrefectClient, settings: Settings, sha256: str, attempt: int
) -> str:
    """Create the `build-preview` run of `attempt` on the gpu pool when a worker there is
    live, else on the cpu pool; return its id. Idempotent per attempt (runs.launch)."""
    if await runs.pool_has_live_worker(prefect, settings.gpu_work_pool):
        # "auto" lets the flow fall back to libx264 if NVENC fails on that worker.
        deployment, encoder = settings.preview_gpu_deployment, "auto"
    else:
        deployment, encoder = settings.preview_cpu_deployment, "cpu"
    run = await runs.launch(
        prefect,
        deployment,
        {"sha256": sha256, "encoder": encoder},
        runs.preview_key_base(sha256),
        first_attempt=attempt,
        tags=["preview", runs.sha_tag(sha256)],
        name=runs.preview_run_name(sha256, encoder),
    )
    return str(run.id)
