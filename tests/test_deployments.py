"""`dailies bootstrap` against a real Prefect server, then deployments run by a real worker."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from tests.staging import random_bytes, stage_bytes

ROOT = Path(__file__).resolve().parent.parent
# The README's deployment table: runs of each deployment at once.
CONCURRENCY = {"promote-master": 8, "preview-gpu": 8, "preview-cpu": 4, "integrity-audit": 1}


async def _read_pools_and_deployments():  # type: ignore[no-untyped-def]
    async with get_client() as client:
        pools = {p.name: p for p in await client.read_work_pools()}
        deployments = {d.name: d for d in await client.read_deployments()}
    return pools, deployments


def test_pools_and_deployments_match_the_files(deployed) -> None:  # type: ignore[no-untyped-def]
    from prefect.utilities.asyncutils import run_coro_as_sync

    pools, deployments = run_coro_as_sync(_read_pools_and_deployments())
    for name in ("cpu", "gpu"):
        template = json.loads((ROOT / "work_pools" / f"{name}.json").read_text())
        assert pools[name].type == "process"
        assert pools[name].base_job_template == template

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for wanted in spec["deployments"]:
        got = deployments[wanted["name"]]
        assert got.entrypoint == wanted["entrypoint"]
        assert got.work_pool_name == wanted["work_pool"]["name"]
        # No path of this host in it: each worker's run changes into its own checkout.
        assert got.pull_steps == [{"flows.checkout.use_this_hosts_checkout": {}}]
        # Heartbeats ride with the run, whoever started its worker (the session's cpu
        # worker is started without them).
        assert got.job_variables["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
    assert deployments["preview-gpu"].parameters == {"encoder": "nvenc"}
    assert deployments["preview-cpu"].parameters == {"encoder": "cpu"}
    # What the server enforces, against the README's figures (not prefect.yaml's).
    limits = {name: deployments[name].global_concurrency_limit.limit for name in CONCURRENCY}
    assert limits == CONCURRENCY
    audit = deployments["integrity-audit"]
    assert [s.schedule.cron for s in audit.schedules] == ["17 3 * * *"]
    assert [s.schedule.timezone for s in audit.schedules] == ["UTC"]
    assert audit.concurrency_options.collision_strategy == "CANCEL_NEW"


def test_every_deployment_sends_the_heartbeats_the_zombie_window_counts() -> None:
    """The zombie automation crashes a deployment run silent for 4 heartbeats. The beat is
    each deployment's own (its env), so no worker started without it (Prefect's default is
    one every 180 s) can make a healthy build look dead."""
    from ops.deploy import automation_specs

    zombie = next(s for s in automation_specs() if s["name"] == "dailies-crash-zombie-flow-runs")
    for path in ("prefect.yaml", "prefect.containers.yaml"):
        for deployment in yaml.safe_load((ROOT / path).read_text())["deployments"]:
            env = deployment["work_pool"]["job_variables"]["env"]
            beat = int(env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"])
            assert zombie["trigger"]["within"] == 4 * beat, (path, deployment["name"])


def test_runs_launched_by_name_are_named_as_their_flows_name_them() -> None:
    """The API names a run when it creates it (dailies/runs.py); the flow renames it when it
    starts (flow_run_name): the same name, so a run never changes name in the UI."""
    from dailies import runs
    from flows.preview import build_preview
    from flows.promote import promote_master

    sha = "ab" * 32
    for encoder in ("cpu", "nvenc", "auto"):
        named = build_preview.flow_run_name.format(sha256=sha, encoder=encoder)  # type: ignore[union-attr]
        assert runs.preview_run_name(sha, encoder) == named
    assert runs.promotion_run_name(sha) == promote_master.flow_run_name.format(sha256=sha)  # type: ignore[union-attr]


def test_bootstrap_is_idempotent(deployed, stack) -> None:  # type: ignore[no-untyped-def]
    from ops.bootstrap import bootstrap

    again = bootstrap(stack, deploy=True)
    assert again["buckets_created"] == []
    assert again["work_pools"] == {"cpu": "updated", "gpu": "updated"}


@pytest.mark.slow
def test_worker_runs_promote_master_by_deployment_name(cpu_worker, stack, s3) -> None:  # type: ignore[no-untyped-def]
    key, sha = stage_bytes(s3, stack, random_bytes(64 * 1024))
    run = run_deployment(
        "promote-master/promote-master",
        parameters={"staging_key": key, "sha256": sha},
        timeout=240,
    )
    assert run.state.is_completed(), run.state.message
    assert run.name == f"promote-{sha[:12]}"
    artifacts = _artifacts(run.id)
    assert [(a.key, a.type) for a in artifacts] == [(f"promotion-{sha[:16]}", "markdown")]
    summary = artifacts[0]
    assert sha in summary.data and key in summary.description
    head = s3.head_object(Bucket=stack.masters_bucket, Key=sha)
    assert head["ObjectLockMode"] == stack.retention_mode
    # Its logs say what was read, how fast, what ran, and what was published, in that order.
    lines = _log_lines(run.id, until=f"promoted: s3://{stack.masters_bucket}/{sha}")
    part = f"{stack.hash_part_bytes / 2**20:,.1f} MiB"
    read = (f"hashing s3://{stack.staging_bucket}/{key} (0.1 MiB, "
            f"{stack.hash_parts_in_flight} ranged GETs of {part} at a time)")  # fmt: skip
    fast = rf"sha256 {sha} over 0\.1 MiB in \d+\.\d s \(\d+ MiB/s\)"
    ran = f"copying to s3://{stack.masters_bucket}/{sha}: one CopyObject"
    copied = r"copied 0\.1 MiB in \d+\.\d s \(\d+ MiB/s\)"
    version = re.escape(head["VersionId"])
    published = (rf"promoted: s3://{stack.masters_bucket}/{sha} version {version}, "
                 rf"{stack.retention_mode} until (\S+)")  # fmt: skip
    checks = (read.__eq__, re.compile(fast).fullmatch, ran.__eq__, re.compile(copied).fullmatch,
              re.compile(published).fullmatch)  # fmt: skip
    at = [next((i for i, line in enumerate(lines) if check(line)), None) for check in checks]
    assert None not in at and at == sorted(at), (at, lines)
    until = datetime.fromisoformat(re.fullmatch(published, lines[at[-1]])[1])  # type: ignore[index]
    assert abs(until - head["ObjectLockRetainUntilDate"]).total_seconds() < 1, lines[at[-1]]
    # the cached copy result went to the shared S3 result storage, keyed on the sha
    stored = s3.list_objects_v2(Bucket=stack.results_bucket, Prefix="prefect-results/")
    assert any(sha in obj["Key"] for obj in stored.get("Contents", []))


@pytest.mark.slow
def test_worker_runs_preview_cpu_by_deployment_name(cpu_worker, stack, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flows.promote import promote_master
    from tests import preview_fixtures as media

    master = media.make_no_audio(tmp_path / "master.mkv", seconds=2)
    key, sha = stage_bytes(s3, stack, master.read_bytes(), name="master.mkv")
    promote_master(key, sha)

    run = run_deployment("build-preview/preview-cpu", parameters={"sha256": sha}, timeout=240)

    assert run.state.is_completed(), run.state.message
    listed = s3.list_objects_v2(Bucket=stack.previews_bucket, Prefix=f"{sha}/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    assert {f"{sha}/manifest.m3u8", f"{sha}/preview.mp4", f"{sha}/poster.jpg"} <= keys
    result = run.state.result()
    assert result["encoder"] == "libx264" and result["status"] == "ready"
    # Runs explain themselves: a name with the sha and encoder, logs that say what ran.
    assert run.name == f"preview-{sha[:12]}-cpu"
    # The run's page links to the player (a markdown link; the reviewer's token is not in
    # it) and shows the ladder's progress, fed by ffmpeg's -progress, at 100 % once ready.
    # One key per kind: the link and the progress are two artifacts of their own.
    shown = {a.key: a.data for a in _artifacts(run.id)}
    kinds = {a.key: a.type for a in _artifacts(run.id)}
    player_key, progress_key = f"preview-player-{sha[:16]}", f"preview-progress-{sha[:16]}"
    assert kinds == {player_key: "markdown", progress_key: "progress"}, kinds
    player = re.escape(f"{stack.edge_url.rstrip('/')}/watch/{sha}")
    assert re.fullmatch(rf"\[player for {sha[:12]}[^\]]*\]\({player}\)", shown[player_key])
    assert float(shown[progress_key]) == 100.0
    lines = _log_lines(run.id, until="ready")
    assert any("encoder: cpu asked, libx264 runs" in line for line in lines), lines
    assert any("x real time" in line for line in lines), lines
    assert any(f"/previews/{sha}/manifest.m3u8" in line for line in lines), lines


def _artifacts(flow_run_id):  # type: ignore[no-untyped-def]
    """The artifacts a flow run's tasks made (written to the server before the run ends).
    Unkeyed ones are left out: the server's own record of each state's result."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return [artifact for artifact in found if artifact.key is not None]


def _log_lines(flow_run_id, until):  # type: ignore[no-untyped-def]
    import time

    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def read():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            logs = await client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200
            )
            return [log.message for log in logs]

    # Logs reach the server in batches after the run: wait for the line `until` names.
    deadline = time.monotonic() + 30
    while True:
        lines = run_coro_as_sync(read())
        if any(until in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.5)


def test_run_forms_refuse_a_bad_sha_and_an_unknown_encoder(deployed) -> None:  # type: ignore[no-untyped-def]
    """The Prefect UI renders the form from the schema; the server enforces it on a run."""
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def schema_and_refusals():  # type: ignore[no-untyped-def]
        async with get_client() as client:
            deployment = await client.read_deployment_by_name("build-preview/preview-cpu")
            refused = []
            for parameters in ({"sha256": "not-a-sha"}, {"sha256": "a" * 64, "encoder": "gpu"}):
                try:
                    await client.create_flow_run_from_deployment(
                        deployment.id, parameters=parameters
                    )
                except PrefectHTTPStatusError as exc:
                    refused.append(exc.response.status_code)
            return deployment.parameter_openapi_schema, refused

    schema, refused = run_coro_as_sync(schema_and_refusals())
    properties = schema["properties"]
    assert properties["sha256"]["pattern"].startswith("^")
    assert "64 hex" in properties["sha256"]["description"]
    assert set(_enum_of(properties["encoder"], schema)) == {"auto", "nvenc", "cpu"}
    assert refused and all(400 <= code < 500 for code in refused) and len(refused) == 2


def _enum_of(prop, schema):  # type: ignore[no-untyped-def]
    if "enum" in prop:
        return prop["enum"]
    for option in prop.get("allOf", []) + prop.get("anyOf", []):
        if "$ref" in option:
            name = option["$ref"].rsplit("/", 1)[-1]
            return schema["definitions"][name]["enum"]
        if "enum" in option:
            return option["enum"]
    raise AssertionError(f"no choices in {prop}")


@pytest.mark.slow
@pytest.mark.stack
def test_cli_commands_run_on_workers_and_answer_in_a_line(cpu_worker, stack, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`dailies promote|preview|audit` launch the deployments (named, tagged, shown in the UI
    like the API's runs, on a worker) and print a short summary with the run's link."""
    import subprocess
    import sys

    from tests import preview_fixtures as media
    from tests.api.prefect_helpers import runs_for_sha

    dailies = str(Path(sys.executable).parent / "dailies")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([dailies, *args], capture_output=True, text=True, timeout=300)

    master = media.make_no_audio(tmp_path / "cli.mkv", seconds=2)
    key, sha = stage_bytes(s3, stack, master.read_bytes(), name="cli.mkv")
    _until_a_live_worker("cpu")  # the commands refuse a pool nobody serves (a fresh worker)
    promoted = cli("promote", key, sha)
    assert promoted.returncode == 0, promoted.stderr
    (line,) = promoted.stdout.strip().splitlines()
    assert line.startswith(f"promoted: s3://{stack.masters_bucket}/{sha} version "), line
    assert f"(run promote-{sha[:12]}: http" in line and "/runs/flow-run/" in line

    built = cli("preview", sha, "--encoder", "cpu")
    assert built.returncode == 0, built.stderr
    (line,) = built.stdout.strip().splitlines()
    assert line.startswith(f"ready: {stack.edge_url.rstrip('/')}/previews/{sha}/manifest.m3u8"), (
        line
    )
    # both ran on the worker, from the deployments, with the names the API gives
    runs = runs_for_sha(sha)
    assert sorted(r.name for r in runs) == [f"preview-{sha[:12]}-cpu", f"promote-{sha[:12]}"]
    assert all(r.deployment_id is not None for r in runs), runs

    audited = cli("audit", "--rehash-budget-bytes", "0")  # the whole session's bucket: list only
    run_line = audited.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\(run audit-\d{4}-\d\d-\d\d-\d{4}: http\S+/runs/flow-run/\S+\)", run_line)
    assert audited.returncode in (0, 1) and "\\n" not in audited.stdout  # findings: other tests'

    refused = cli("promote", "uploads/none/missing.mov", sha)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "no object at s3://" in refused.stderr


def _until_a_live_worker(pool: str, timeout_s: float = 120) -> None:
    import asyncio
    import time

    from dailies import runs

    async def live() -> bool:
        async with get_client() as client:
            return await runs.pool_has_live_worker(client, pool)

    deadline = time.monotonic() + timeout_s
    while not asyncio.run(live()):
        assert time.monotonic() < deadline, f"no live worker in {pool} within {timeout_s} s"
        time.sleep(0.5)
