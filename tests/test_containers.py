"""The container path: Dockerfile, compose.yaml, prefect.containers.yaml and the docker /
kubernetes pool templates, checked here without a Docker engine. Templates are rendered by
the workers' own job configuration classes (prefect-docker, prefect-kubernetes) the way a
worker renders them for a flow run."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.schemas.objects import FlowRun
from prefect.settings import Settings as PrefectSettings
from prefect.settings.legacy import _get_valid_setting_names
from prefect.workers.base import BaseJobConfiguration
from prefect.workers.process import ProcessJobConfiguration
from prefect_docker.worker import DockerWorkerJobConfiguration
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration
from prefect_redis.client import RedisMessagingSettings

from dailies.settings import Settings
from ops.deploy import (
    CONTAINERS_FILE,
    _resolve_block_references,
    deploy_prefect_yaml,
    environment_spec,
    prefect_files,
)
from ops.errors import ImageNotConfigured

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIGURATIONS: dict[str, type[BaseJobConfiguration]] = {
    "process": ProcessJobConfiguration,
    "docker": DockerWorkerJobConfiguration,
    "kubernetes": KubernetesWorkerJobConfiguration,
}
ENVIRONMENTS = sorted(p.stem for p in (ROOT / "deployments").glob("*.yaml"))
SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAILIES_DATABASE_URL")


def _yaml(name: str) -> Any:
    return yaml.safe_load((ROOT / name).read_text())


def _deployments(env: str) -> dict[str, dict[str, Any]]:
    """The deployments an environment ends up with: later prefect files replace earlier."""
    found: dict[str, dict[str, Any]] = {}
    for name in prefect_files(Settings(deploy_env=env)):
        found |= {d["name"]: d for d in _yaml(name)["deployments"]}
    return found


def _render(template: dict[str, Any], kind: str, job_variables: dict[str, Any]) -> Any:
    """What a worker of `kind` makes of the pool's template for one flow run."""
    config = asyncio.run(CONFIGURATIONS[kind].from_template_and_values(template, job_variables))
    config.prepare_for_flow_run(FlowRun(flow_id=uuid.uuid4(), name="render-check"))
    return config


def _pool(env: str, name: str) -> tuple[str, dict[str, Any]]:
    spec = environment_spec(Settings(deploy_env=env))["pools"][name]
    return spec["type"], json.loads((ROOT / spec["template"]).read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_pool_renders_every_deployment_with_its_workers_configuration(
    env: str, prefect_server: Any
) -> None:
    for deployment in _deployments(env).values():
        kind, template = _pool(env, deployment["work_pool"]["name"])
        job_variables = deployment["work_pool"].get("job_variables", {})
        if "{{ build-image.image }}" in json.dumps(job_variables):  # the build step's output
            job_variables = {**job_variables, "image": "registry.example/dailies:20250101"}
        config = _render(template, kind, job_variables)
        # The pool's own environment survives the deployment's (Prefect merges `env`).
        encoder = config.env["DAILIES_PREVIEW_ENCODER"] if isinstance(config.env, dict) else None
        if kind == "kubernetes":
            env_list = config.job_manifest["spec"]["template"]["spec"]["containers"][0]["env"]
            encoder = next(e["value"] for e in env_list if e["name"] == "DAILIES_PREVIEW_ENCODER")
        wanted = deployment.get("parameters", {}).get("encoder")
        assert encoder == (wanted or "cpu"), (env, deployment["name"])


def test_templates_and_deployments_agree_on_the_preview_encoder() -> None:
    """settings.preview_encoder reads DAILIES_PREVIEW_ENCODER: each pool says what it can do."""
    allowed = {"auto", "nvenc", "cpu"}
    for path in (ROOT / "work_pools").glob("*.json"):
        default_env = json.loads(path.read_text())["variables"]["properties"]["env"]["default"]
        assert default_env["DAILIES_PREVIEW_ENCODER"] == (
            "cpu" if path.stem == "cpu" else "nvenc"
        ), path.name
    for env in ENVIRONMENTS:
        for deployment in _deployments(env).values():
            variables = deployment["work_pool"].get("job_variables", {}).get("env", {})
            encoder = variables.get("DAILIES_PREVIEW_ENCODER")
            assert encoder in allowed | {None}
            if encoder is not None:
                assert encoder == deployment["parameters"]["encoder"], deployment["name"]


def test_kubernetes_job_mounts_scratch_at_dailies_scratch_dir_and_reads_secrets_from_a_secret(
    prefect_server: Any,
) -> None:
    kind, template = _pool("kubernetes", "gpu")
    preview = _deployments("kubernetes")["preview-gpu"]
    image = "registry.example/dailies:20250101"
    config = _render(template, kind, {**preview["work_pool"]["job_variables"], "image": image})
    pod = config.job_manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e for e in container["env"]}

    scratch = env["DAILIES_SCRATCH_DIR"]["value"]
    mounted = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounted["scratch"] == scratch == "/scratch"
    volume = next(v for v in pod["volumes"] if v["name"] == "scratch")
    assert volume["emptyDir"]["sizeLimit"] == "200Gi"
    assert Settings(scratch_dir=scratch).scratch_dir == Path(scratch)

    for name in SECRETS:
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "dailies",
            "key": name,
            **({"optional": True} if name.startswith("AWS_") else {}),
        }
    assert container["image"] == image
    assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "1"
    assert container["args"] == shlex.split(BaseJobConfiguration._base_flow_run_command())
    assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "compute,video,utility"
    # Other settings from the ConfigMap `dailies`; a cluster without it still runs the Job.
    assert container["envFrom"] == [{"configMapRef": {"name": "dailies", "optional": True}}]


def test_docker_container_gets_a_gpu_and_a_scratch_volume_at_dailies_scratch_dir(
    prefect_server: Any,
) -> None:
    kind, template = _pool("docker", "gpu")
    config = _render(template, kind, _deployments("docker")["preview-gpu"]["work_pool"][
        "job_variables"] | {"image": "registry.example/dailies:1"})  # fmt: skip
    # A named volume (it outlives the container), mounted where DAILIES_SCRATCH_DIR points.
    assert config.env["DAILIES_SCRATCH_DIR"] == "/scratch"
    assert config.volumes == ["dailies-scratch:/scratch"]
    request = config.container_create_kwargs["device_requests"][0]
    assert request["Driver"] == "nvidia" and "video" in request["Capabilities"][0]
    assert config.image == "registry.example/dailies:1"
    assert config.command == BaseJobConfiguration._base_flow_run_command()
    assert not set(SECRETS) & set(config.env)  # never literals in a template
    # Without a deployment's image: the one compose.yaml builds, never pulled from a hub.
    default = _render(template, kind, {})
    assert default.image == _compose_image()
    assert default.image_pull_policy == "IfNotPresent"


def _compose_image() -> str:
    image = _yaml("compose.yaml")["x-image"]["image"]
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", image)


def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_dockerfile_import_check_passes_here_and_entrypoint_runs_prefects_command() -> None:
    lines = _dockerfile()
    check = next(line for line in lines if line.startswith('RUN python -c "import flows'))
    # the same command line the image build runs, with this checkout's interpreter
    done = subprocess.run(
        check.removeprefix("RUN "), shell=True, cwd=ROOT, capture_output=True, text=True,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(ROOT / ".dailies")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(next(x for x in lines if x.startswith("ENTRYPOINT"))[11:])[0] == "tini"
    cmd = json.loads(next(x for x in lines if x.startswith("CMD"))[4:])
    assert cmd == shlex.split(BaseJobConfiguration._base_flow_run_command())
    workdir = next(x for x in lines if x.startswith("WORKDIR")).split()[1]
    pull = _yaml(CONTAINERS_FILE)["deployments"][0]["pull"][0]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == workdir
    assert any("uv sync --frozen --no-dev --group workers" in x for x in lines)
    assert "workers" in _yaml_toml_groups()
    installed = next(x for x in lines if "apt-get install" in x).split()
    # Debian's ffmpeg (NVENC compiled in), nginx with njs for the edge, tini as PID 1.
    assert {"ffmpeg", "nginx-light", "libnginx-mod-http-js", "tini"} <= set(installed)
    assert lines[0] == "FROM python:3.11-slim-bookworm"


def test_dockerfile_runs_as_an_unprivileged_user_who_owns_only_state_and_scratch() -> None:
    lines = _dockerfile()
    users = [x.split()[1] for x in lines if x.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith(("0:", "root:"))
    user = users[-1]
    created = next(x for x in lines if "useradd" in x)
    uid = re.search(rf"useradd [^&]*--uid (\d+) {user}\b", created)
    assert uid and int(uid[1]) >= 1000  # a regular account, no system uid
    # The import check runs as that user: what it imports is readable without root.
    check = next(i for i, x in enumerate(lines) if x.startswith('RUN python -c "import flows'))
    assert lines.index(f"USER {user}") < check
    # It owns its state and scratch folders, and nothing of the code.
    env = " ".join(x for x in lines if x.startswith("ENV "))
    assert "DAILIES_HOME=/var/lib/dailies" in env
    assert f"chown {user}:{user} /var/lib/dailies /scratch" in created
    assert not any("chown" in x and "/opt/dailies" in x for x in lines)


def test_dockerfile_import_check_fails_when_a_flow_cannot_import(tmp_path: Path) -> None:
    """A RUN line fails the build when it exits non-zero: a broken flows package (found
    first on sys.path, as the image's own checkout is) makes the check exit non-zero."""
    check = next(x for x in _dockerfile() if x.startswith('RUN python -c "import flows'))
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "__init__.py").write_text("")
    (tmp_path / "flows" / "preview.py").write_text("import a_module_nobody_installed\n")
    done = subprocess.run(
        check.removeprefix("RUN "), shell=True, cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode != 0
    assert "a_module_nobody_installed" in done.stderr


def _yaml_toml_groups() -> set[str]:
    import tomllib

    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"])


def test_dockerignore_keeps_what_the_image_needs() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    needed = {"dailies", "ops", "flows", "tasks", "api", "edge", "migrations", "work_pools",
              "deployments", "automations", "scripts", "prefect.yaml", "pyproject.toml",
              "uv.lock", "alembic.ini", "README.md"}  # fmt: skip
    assert not needed & ignored
    assert {".venv", ".git", ".dailies"} <= ignored


def test_container_prefect_file_builds_the_dockerfile_pushes_it_and_pins_the_tag() -> None:
    spec = _yaml(CONTAINERS_FILE)
    (deployment,) = spec["deployments"]
    (build,) = deployment["build"]
    step = build["prefect_docker.deployments.steps.build_docker_image"]
    assert (ROOT / step["dockerfile"]).is_file()
    assert step["image_name"] == "{{ $DAILIES_IMAGE }}" and "tag" not in step
    (push,) = deployment["push"]
    pushed = push["prefect_docker.deployments.steps.push_docker_image"]
    assert pushed["image_name"] == f"{{{{ {step['id']}.image_name }}}}"
    assert pushed["tag"] == f"{{{{ {step['id']}.tag }}}}"
    assert deployment["work_pool"]["job_variables"]["image"] == f"{{{{ {step['id']}.image }}}}"
    from prefect.deployments.steps.core import _get_function_for_step

    for name in (*build, *push):
        assert callable(_get_function_for_step(name))
    assert step["platform"] == "linux/amd64"  # GPU nodes are x86-64, whatever builds it
    # the same flow and parameters as prefect.yaml's deployment of the same name
    local = {d["name"]: d for d in _yaml("prefect.yaml")["deployments"]}[deployment["name"]]
    for key in ("entrypoint", "parameters", "tags", "concurrency_limit"):
        assert deployment[key] == local[key]


def test_only_container_environments_build_an_image() -> None:
    for env in ENVIRONMENTS:
        files = prefect_files(Settings(deploy_env=env))
        assert files[0] == "prefect.yaml" and all((ROOT / f).is_file() for f in files)
        container_pools = {
            spec["type"] for spec in environment_spec(Settings(deploy_env=env))["pools"].values()
        } - {"process"}
        assert (CONTAINERS_FILE in files) == bool(container_pools), env
    with pytest.raises(ImageNotConfigured, match="DAILIES_IMAGE"):
        deploy_prefect_yaml(Settings(deploy_env="kubernetes", image=None))


def test_automation_block_names_resolve_to_ids_or_are_reported_missing() -> None:
    spec = {"actions": [{"type": "send-notification", "block_document_id": "block:ops"},
                        {"type": "pause-work-pool", "source": "inferred"}]}  # fmt: skip
    block_id = uuid.uuid4()
    assert _resolve_block_references(json.loads(json.dumps(spec)), {}) == ["ops"]
    assert _resolve_block_references(spec, {"ops": block_id}) == []
    assert spec["actions"][0]["block_document_id"] == str(block_id)


COMPOSE_TOOLS = {"dailies", "prefect", "uvicorn", "moto_server"}


def test_compose_services_run_things_that_exist_here() -> None:
    from typer.main import get_command

    from ops.cli import app

    compose = _yaml("compose.yaml")
    services = compose["services"]
    ours = {name for name, s in services.items() if s.get("image") == compose["x-image"]["image"]}
    assert {"s3", "prefect-server", "bootstrap", "api", "edge", "cpu-worker", "task-worker"} <= ours
    dailies_commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name in ours:
        command = services[name]["command"]
        assert command[0] in COMPOSE_TOOLS and (BIN / command[0]).exists(), name
        if command[0] == "dailies":
            assert command[1] in dailies_commands, name
        if command[0] == "uvicorn":
            module, attribute = command[1].split(":")
            assert hasattr(__import__(module, fromlist=[attribute]), attribute)
        if command[:3] == ["prefect", "task", "serve"]:
            from prefect import Task

            path, attribute = command[3].split(":")
            module = path.removesuffix(".py").replace("/", ".")
            served = getattr(__import__(module, fromlist=[attribute]), attribute, None)
            assert isinstance(served, Task), name
        if command[:2] == ["dailies", "worker"]:
            pool = command[command.index("--pool") + 1]
            assert pool in environment_spec(Settings(deploy_env="local"))["pools"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, (name, needed)
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"]


def _defaults(value: str) -> str:
    """A compose value with each ${VAR:-default} at its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def test_compose_environment_names_are_settings_that_exist() -> None:
    dailies = {f"DAILIES_{name.upper()}" for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        aliases = getattr(field.validation_alias, "choices", [])
        dailies |= {a for a in aliases if isinstance(a, str)}
    prefect = _get_valid_setting_names(PrefectSettings) | _get_valid_setting_names(
        RedisMessagingSettings
    )
    aws = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "NVIDIA_DRIVER_CAPABILITIES"}
    postgres = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    for name, service in _yaml("compose.yaml")["services"].items():
        env = {k: _defaults(v) for k, v in service.get("environment", {}).items()}
        for key in env:
            assert key in dailies | prefect | aws | postgres, (name, key)
        if any(k.startswith("DAILIES_") for k in env):
            settings = Settings(**{_field(k): v for k, v in env.items() if _field(k)})
            assert settings.resolved_database_url.startswith("postgresql+psycopg://")
        if "PREFECT_API_DATABASE_CONNECTION_URL" in env:
            assert env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
            assert env["PREFECT_MESSAGING_BROKER"] == "prefect_redis.messaging"
            assert env["PREFECT_MESSAGING_CACHE"] == "prefect_redis.messaging"


def _field(env_name: str) -> str | None:
    name = env_name.removeprefix("DAILIES_").lower()
    return name if env_name.startswith("DAILIES_") and name in Settings.model_fields else None


def test_compose_postgres_holds_both_databases_and_prefect_leans_on_redis() -> None:
    compose = _yaml("compose.yaml")
    services = compose["services"]
    postgres = services["postgres"]
    # `dailies` made by the image's POSTGRES_DB, `prefect` by the init script it mounts.
    assert postgres["environment"]["POSTGRES_DB"] == "dailies"
    (config,) = postgres["configs"]
    assert config["target"].startswith("/docker-entrypoint-initdb.d/")
    script = compose["configs"][config["source"]]["content"]
    assert re.fullmatch(r"CREATE DATABASE prefect OWNER dailies;\s*", script)
    prefect_env = {k: _defaults(v) for k, v in services["prefect-server"]["environment"].items()}
    assert prefect_env["PREFECT_API_DATABASE_CONNECTION_URL"].endswith("@postgres:5432/prefect")
    catalog = _defaults(compose["x-dailies-env"]["DAILIES_DATABASE_URL"])
    assert catalog.endswith("@postgres:5432/dailies")
    assert prefect_env["PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"] == "prefect_redis.ordering"
    assert prefect_env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == "prefect_redis.lease_storage"
    assert prefect_env["PREFECT_REDIS_MESSAGING_HOST"] == "redis"
    for module in ("prefect_redis.messaging", "prefect_redis.ordering",
                   "prefect_redis.lease_storage"):  # fmt: skip
        __import__(module)  # what the server would import at start
    # Prefect's messaging (db 0) and dailies' locks (db 1) apart on the one Redis.
    assert prefect_env["PREFECT_REDIS_MESSAGING_DB"] == "0"
    assert compose["x-dailies-env"]["DAILIES_REDIS_URL"] == "redis://redis:6379/1"
    published = {name: s.get("ports", []) for name, s in services.items()}
    assert published["api"] == ["8000:8000"]
    assert published["edge"] == ["8080:8080"]
    assert published["prefect-server"] == ["4200:4200"]
    assert services["api"]["command"][-2:] == ["--port", "8000"]
    assert services["edge"]["environment"]["DAILIES_EDGE_PORT"] == "8080"
    assert services["prefect-server"]["command"][-2:] == ["--port", "4200"]


def test_compose_gpu_profile_adds_a_gpu_worker_with_an_nvidia_device() -> None:
    services = _yaml("compose.yaml")["services"]
    profiled = {name for name, s in services.items() if s.get("profiles")}
    assert profiled == {"gpu-worker"}  # a plain `docker compose up` starts no GPU worker
    worker = services["gpu-worker"]
    assert worker["profiles"] == ["gpu"]
    command = worker["command"]
    assert command[:2] == ["dailies", "worker"]
    assert command[command.index("--pool") + 1] == "gpu"
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["count"] == 1
    assert {"gpu", "video"} <= set(device["capabilities"])  # video: NVENC
    assert "video" in worker["environment"]["NVIDIA_DRIVER_CAPABILITIES"].split(",")


def test_compose_workers_poll_every_second_and_prefetch_two() -> None:
    """Prefect's defaults (10 s, 10 s) would be most of a first play's wait."""
    services = _yaml("compose.yaml")["services"]
    for name in ("cpu-worker", "gpu-worker"):
        env = services[name]["environment"]
        assert env["PREFECT_WORKER_QUERY_SECONDS"] == "1", name
        assert env["PREFECT_WORKER_PREFETCH_SECONDS"] == "2", name
