"""A promotion's flow-run process SIGKILLed while it hashes and while it copies into masters;
the next run of the deployment (as the API or ops launch it) promotes the master once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dailies.clients import session_scope
from dailies.db.models import PromotionAttempt
from dailies.runs import promotion_key_base, sha_tag
from dailies.settings import MiB
from tests.faults.conftest import PROMOTE, SCRATCH, FaultWorker
from tests.faults.flaky_s3 import FlakyS3, Hold
from tests.faults.outcome import leftovers, master_problems
from tests.faults.report import FaultTable
from tests.faults.runs import launch, wait_final
from tests.test_promote_large import _stage_file

pytestmark = [pytest.mark.slow, pytest.mark.faults]
DEPLOYMENT = f"{PROMOTE[0]}/{PROMOTE[1]}"


def _launch(key: str, sha: str) -> str:
    params = {"staging_key": key, "sha256": sha}
    return launch(DEPLOYMENT, params, promotion_key_base(sha, key), ["promote", sha_tag(sha)])


def _kill_then_promote(worker: FaultWorker, key: str, sha: str, hold: Hold, settings: Any) -> float:
    """Launch, SIGKILL the flow-run process while `hold` keeps it mid-step, check the killed
    run left no masters object, launch again; return seconds from the kill to promoted."""
    first = _launch(key, sha)
    killed_at = worker.kill_flow_run_at(first, hold)
    crashed = wait_final(first, 60)
    assert crashed.state is not None and crashed.state.type.value == "CRASHED", crashed.state
    # Killed mid-way: no masters object, nor any version of one.
    assert master_problems(settings, sha)[0].startswith("0 masters versions")

    second = _launch(key, sha)
    assert second != first  # the crashed run's key is spent: a new attempt
    done = wait_final(second, 120)
    recovery_s = time.monotonic() - killed_at
    assert done.state is not None and done.state.is_completed(), done.state
    return recovery_s


def _outcomes(settings: Any, sha: str) -> list[str]:
    with session_scope(settings) as session:
        query = select(PromotionAttempt.outcome).where(PromotionAttempt.sha256 == sha)
        return sorted(session.scalars(query))


def test_flow_run_killed_while_hashing_is_promoted_once_by_the_next_run(
    worker: FaultWorker, store: FlakyS3, stack: Any, s3: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    size, at = 64 * MiB, 16 * MiB
    key, sha = _stage_file(s3, stack, tmp_path, size)
    upload = key.split("/")[1]

    # The hash's ranged GETs in order: the one starting at 16 MiB or later, stopped after 1 MiB
    # of its body (the parts before it are hashed or being hashed).
    def past_16_mib(method: str, path: str, headers: dict[str, str]) -> bool:
        ranged = {k.lower(): v for k, v in headers.items()}.get("range", "bytes=0-")
        first = int(ranged.removeprefix("bytes=").split("-")[0])
        return method == "GET" and upload in path and first >= at

    hold = store.hold(past_16_mib, 1 * MiB)

    recovery_s = _kill_then_promote(worker, key, sha, hold, stack)

    assert master_problems(stack, sha) == []
    assert _outcomes(stack, sha) == ["failed", "promoted"]
    left = leftovers(SCRATCH, stack, sha)
    assert left == []
    fault_table.add(
        "1 hashing", f"SIGKILL flow-run process with {at // MiB} of {size // MiB} MiB hashed",
        recovery_s, "promoted once", left,
    )  # fmt: skip


def test_flow_run_killed_mid_multipart_copy_is_promoted_once_by_the_next_run(
    worker: FaultWorker, store: FlakyS3, stack: Any, s3: Any, tmp_path: Path,
    fault_table: FaultTable,
) -> None:  # fmt: skip
    size = 48 * MiB
    key, sha = _stage_file(s3, stack, tmp_path, size)

    def second_part(method: str, path: str, headers: dict[str, str]) -> bool:
        copying = any(k.lower() == "x-amz-copy-source" for k in headers)
        return method == "PUT" and copying and sha in path and "partNumber=2" in path

    recovery_s = _kill_then_promote(worker, key, sha, store.hold(second_part), stack)

    assert master_problems(stack, sha) == []
    assert _outcomes(stack, sha) == ["failed", "promoted"]
    left = leftovers(SCRATCH, stack, sha)
    assert left == []
    fault_table.add(
        "2 masters copy", "SIGKILL flow-run process mid UploadPartCopy (part 2 of "
        f"{size // (16 * MiB)})", recovery_s, "promoted once; the upload resumed", left,
    )  # fmt: skip
