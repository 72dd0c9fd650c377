"""Starting a preview's work: the first rendition as a Prefect task that running task workers
serve (its key and signature live here), the ladder by its deployment's name. The API and the
liveness sweep start work through here only, and import nothing from tasks/, media/ or
flows/: the code that does the work lives on the workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Task, tags
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient

from dailies import runs
from dailies.settings import Settings

FIRST_RENDITION_TASK = "first-rendition"
_implementation: Callable[[str], dict[str, Any]] | None = None


def first_rendition(sha256: str, attempt: int = 1) -> dict[str, Any]:
    """The first rendition's task function, run by a task worker as the implementation
    tasks/first_rendition.py registered there. Prefect knows a task by a hash of its function's
    code, so the API that submits and the worker that serves share this one function; the
    work itself (ffmpeg, media/) stays on the worker. `attempt` (the preview's) only names
    the run: the task worker names it from its own copy of this task's template."""
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
    task_run_name="first-rendition-{sha256:.12}-{attempt}",
    cache_policy=NO_CACHE,
    retries=0,  # the ladder's deployment, launched next, is the retry
)


def submit_first_rendition(sha256: str, attempt: int = 1) -> str:
    """Hand the first rendition to a running task worker (blocking: call it in a thread),
    tagged with its master like the ladder's run; return its task run's id."""
    # The one task object, not a `with_options` copy per call: a copy resolves its result
    # store (the task-scheduling storage block) afresh, on the path a reviewer waits on. The
    # run is named by the worker's template when it starts (within a second); its tags are
    # the context's.
    with tags("preview", runs.sha_tag(sha256)):
        return str(FIRST_RENDITION.delay(sha256, attempt).task_run_id)


async def link_first_rendition(
    prefect: PrefectClient, flow_run_id: str, sha256: str, task_run_id: str
) -> None:
    """A link on the ladder run's page to the first rendition's task run, which Prefect
    shows under no flow run (a task worker ran it): ops find both from either's sha tag."""
    from uuid import UUID

    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.utilities.urls import url_for

    url = url_for("task-run", obj_id=task_run_id)
    if url is None:  # no UI to link to (PREFECT_UI_URL unset on a remote API)
        return
    await prefect.create_artifact(
        ArtifactCreate(
            key=f"first-rendition-{sha256[:16]}",
            type="markdown",
            data=f"[first rendition of {sha256[:12]}]({url}) (task run {task_run_id})",
            description="the fast first rendition a task worker published for this preview",
            flow_run_id=UUID(flow_run_id),
        )
    )


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
