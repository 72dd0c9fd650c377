"""`dailies up --store rgw`: the whole stack on a throw-away Ceph RGW instead of moto."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import boto3
import pytest

from ops.processes import free_port
from tests.ops.test_up import DAILIES, _alive, _clean_env, _wait
from tests.staging import random_bytes, stage_bytes

pytestmark = [pytest.mark.slow, pytest.mark.rgw, pytest.mark.stack]


def test_up_on_rgw_promotes_a_master_under_object_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env, log = _clean_env(home), tmp_path / "up.log"
    ports = [str(free_port()) for _ in range(3)]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [DAILIES, "up", "--store", "rgw", "--no-gpu", "--edge-port", ports[0],
             "--api-port", ports[1], "--prefect-port", ports[2]],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait((home / "stack.json").exists, 240, "the stack to start", log, proc)
        state = json.loads((home / "stack.json").read_text())
        assert {"rgw-mon", "rgw-osd", "s3"} <= set(state["services"])
        assert "accepts any signature" not in log.read_text()  # moto's warning: not RGW's
        s3 = boto3.client(
            "s3", endpoint_url=state["env"]["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
            aws_access_key_id=state["env"]["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=state["env"]["AWS_SECRET_ACCESS_KEY"],
        )  # fmt: skip
        assert s3.list_buckets()["Owner"]["ID"] == "dailies"  # RGW's user, not moto's
        settings = type("Buckets", (), {"staging_bucket": "staging"})()
        key, sha = stage_bytes(s3, settings, random_bytes(64 * 1024))

        done = subprocess.run(
            [DAILIES, "promote", key, sha, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout[done.stdout.index("{") :])
        assert result["status"] == "promoted" and result["version_id"]
        head = s3.head_object(Bucket="masters", Key=sha, VersionId=result["version_id"])
        assert head["ObjectLockMode"] == "COMPLIANCE"
        services = state["services"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(90)
    assert code == 0, log.read_text()
    for name, pid in services.items():
        assert not _alive(pid), f"{name} ({pid}) outlived the stack"
