"""The store answering 503 SlowDown / 500 InternalError for a while: boto3's own retries run
out, the step fails Transient, Prefect retries it, and the promotion and the preview
succeed with nothing half-published."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from dailies.runs import promotion_key_base, sha_tag
from dailies.settings import MiB
from tests.faults.conftest import PROMOTE, SCRATCH, FaultWorker
from tests.faults.flaky_s3 import FlakyS3
from tests.faults.outcome import leftovers, master_problems
from tests.faults.previewing import (
    assert_recovered,
    final_states,
    ladder_segment_put,
    promoted_clip,
    trigger,
    until_ready,
)
from tests.faults.report import FaultTable
from tests.faults.runs import launch, wait_final
from tests.prefect_runs import task_retries
from tests.test_promote_large import _stage_file

pytestmark = [pytest.mark.slow, pytest.mark.faults]
# botocore's `max_attempts` counts retries (dailies/clients.py sets 5): one call is 1 + 5
# attempts, so BOTO_ATTEMPTS + 1 failures in a row spend them all and the failure reaches the task.
BOTO_ATTEMPTS = 5


def test_store_throttling_the_masters_copy_is_retried_and_promotes_once(
    worker: FaultWorker, store: FlakyS3, stack: Any, s3: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    key, sha = _stage_file(s3, stack, tmp_path, 24 * MiB)  # multipart copy: 2 parts

    def copy_part(method: str, path: str, headers: dict[str, str]) -> bool:
        copying = any(k.lower() == "x-amz-copy-source" for k in headers)
        return method == "PUT" and copying and sha in path and "partNumber=" in path

    outage = store.outage(copy_part, times=BOTO_ATTEMPTS + 1, window_s=2, status=503)
    params = {"staging_key": key, "sha256": sha}
    run_id = launch(
        f"{PROMOTE[0]}/{PROMOTE[1]}", params, promotion_key_base(sha, key),
        ["promote", sha_tag(sha)],
    )  # fmt: skip
    done = wait_final(run_id, 180)
    assert outage.started is not None, "the copy never reached the store"
    recovery_s = time.monotonic() - outage.started

    assert done.state is not None and done.state.is_completed(), done.state
    assert outage.failed == BOTO_ATTEMPTS + 1
    assert task_retries(UUID(run_id), "record_promotion")["copy_to_masters"] >= 1
    assert master_problems(stack, sha) == []  # one version, one row, no upload left open
    left = leftovers(SCRATCH, stack, sha)
    assert left == []
    fault_table.add(
        "7a store 503 (promote)",
        f"503 SlowDown on {outage.failed} tries of UploadPartCopy, then 2 s of 503 to all",
        recovery_s, "promoted once (copy task retried)", left,
    )  # fmt: skip


def test_store_failing_during_the_preview_publish_is_retried_and_ends_ready(
    worker: FaultWorker, store: FlakyS3, fault_api: httpx.Client, stack: Any,
    tmp_path: Path, fault_table: FaultTable,
) -> None:  # fmt: skip
    sha = promoted_clip(stack, tmp_path, "outage.mp4", seconds=6)

    ladder_segment = ladder_segment_put(sha)

    outage = store.outage(ladder_segment, times=BOTO_ATTEMPTS + 1, window_s=2, status=500)
    run_id = trigger(fault_api, sha)["flow_run_id"]
    ready_at = until_ready(fault_api, sha, 180)
    assert outage.started is not None, "no segment upload reached the store"
    recovery_s = ready_at - outage.started

    assert outage.failed >= BOTO_ATTEMPTS + 1
    retried = task_retries(UUID(run_id), "record_ready")
    assert sum(retried.values()) >= 1, retried
    # one run, retried inside: no second attempt was needed
    assert final_states(sha) == ["COMPLETED"]
    left = assert_recovered(stack, sha)
    fault_table.add(
        "7b store 500 (preview)",
        f"500 InternalError on {outage.failed} ladder segment uploads, then 2 s of 500 to all",
        recovery_s, f"ready (retried: {', '.join(sorted(t for t, n in retried.items() if n))})",
        left,
    )  # fmt: skip
