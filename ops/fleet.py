"""The production shape, one role per host: what each host runs and with which settings.

This table is the one description of a fleet. `tests/fleet` starts exactly these commands on
hosts of its own (network namespaces), the README's "Scaling out" is printed from it
(scripts/contract_doc.py), and compose.yaml is checked against it (tests/ops/test_fleet_table.py),
so the documented shape is the tested one. Every placeholder is a
host's address (`{db}`, `{s3}`, `{lb}`, `{edge}`, `{self}`), a replica's (`{replica}`: a
process that exists once per Prefect API replica) or a secret (`{grant_secret}`,
`{s3_key}`, `{s3_secret}`).

Why these choices:
- Prefect keeps a background task's queue in the memory of the API replica that took the
  `.delay()` (prefect/server/task_queue.py; PrefectHQ/prefect#21218), so a task worker only
  sees the submissions of the replica its websocket landed on. Each worker host therefore runs
  one task worker per replica, connected to that replica directly (not through the load
  balancer): every replica has subscribers, and losing one replica loses only its own queue.
  Trade-off: task-worker processes = hosts x replicas, and a new replica needs a task worker
  on each host.
- One replica migrates the database (the first to start); the others start with
  PREFECT_API_DATABASE_MIGRATE_ON_START=false, so two migrations never race.
- `prefect server services start` runs once, beside the replicas (`--no-services`).
- Redis carries Prefect's messaging, causal ordering and lease storage (db 0) and dailies'
  locks and single-flight (db 1); both must be the same Redis for every host.
- Task parameters and results go to S3 (the block `dailies bootstrap` saves): a `.delay()`
  made on an API host is read by a task worker on another.
- The s3 host runs Ceph RGW (`dailies rgw`, ops/rgw.py), not moto: RGW checks signatures
  and enforces the masters bucket's Object Lock, which moto only imitates. Only its gateway
  listens on the host's address; its monitor and OSD (no cephx) stay on loopback.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

RESULTS_BLOCK = "s3-bucket/dailies-results"


@dataclass(frozen=True)
class Process:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    per_replica: bool = False  # one per Prefect API replica, `{replica}` filled for each
    note: str = ""


@dataclass(frozen=True)
class Role:
    name: str
    hosts: str  # how many, in words
    does: str
    processes: tuple[Process, ...]


# What every dailies process (API, edge, workers, flow and task runs, bootstrap) reads.
DAILIES_ENV = {
    "DAILIES_DATABASE_URL": "postgresql+psycopg://postgres@{db}:5432/dailies",
    "DAILIES_REDIS_URL": "redis://{db}:6379/1",
    "AWS_ENDPOINT_URL_S3": "http://{s3}:5000",
    "AWS_ACCESS_KEY_ID": "{s3_key}",
    "AWS_SECRET_ACCESS_KEY": "{s3_secret}",
    "AWS_DEFAULT_REGION": "us-east-1",
    "PREFECT_API_URL": "http://{lb}:4200/api",
    "DAILIES_PREVIEW_GRANT_SECRET": "{grant_secret}",
    "DAILIES_EDGE_URL": "http://{edge}:8080",
    "PREFECT_TASKS_SCHEDULING_DEFAULT_STORAGE_BLOCK": RESULTS_BLOCK,
    "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK": RESULTS_BLOCK,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}

# What every Prefect API replica and the services process read.
PREFECT_SERVER_ENV = {
    "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://postgres@{db}:5432/prefect",
    "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
    "PREFECT_REDIS_MESSAGING_HOST": "{db}",
    "PREFECT_REDIS_MESSAGING_PORT": "6379",
    "PREFECT_REDIS_MESSAGING_DB": "0",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_API_URL": "http://{lb}:4200/api",
}

ROLES: tuple[Role, ...] = (
    Role(
        "db", "1", "the catalog and Prefect's database; Redis for messaging and locks",
        (
            Process("postgres", ("postgres", "-D", "{data}/pg", "-c", "listen_addresses={self}")),
            Process("redis", ("redis-server", "--bind", "{self}", "--port", "6379",
                              "--save", "", "--appendonly", "no", "--protected-mode", "no")),
        ),
    ),
    Role(
        "s3", "1 (or a managed S3)",
        "the staging, masters and previews buckets: Ceph RGW, Object Lock enforced",
        (Process("s3", ("dailies", "rgw", "--host", "{self}", "--port", "5000",
                        "--dir", "{data}/rgw"),
                 {"AWS_ACCESS_KEY_ID": "{s3_key}", "AWS_SECRET_ACCESS_KEY": "{s3_secret}"},
                 note="a one-node cluster on a sparse file (`ops/rgw.py`); the user it makes "
                      "has the keys every other host signs with"),),
    ),
    Role(
        "ctl-first", "1", "the Prefect API replica that migrates, and Prefect's services",
        (
            Process("prefect-api", ("prefect", "server", "start", "--host", "{self}",
                                    "--port", "4200", "--no-services"), PREFECT_SERVER_ENV),
            Process("prefect-services", ("prefect", "server", "services", "start"),
                    PREFECT_SERVER_ENV),
        ),
    ),
    Role(
        "ctl", "1 or more", "further Prefect API replicas",
        (
            Process("prefect-api", ("prefect", "server", "start", "--host", "{self}",
                                    "--port", "4200", "--no-services"),
                    {**PREFECT_SERVER_ENV, "PREFECT_API_DATABASE_MIGRATE_ON_START": "false"}),
        ),
    ),
    Role(
        "lb", "1", "a load balancer in front of the Prefect API replicas (websockets passed on)",
        (Process("prefect-lb", ("nginx", "-p", "{data}/lb", "-c", "{data}/lb/nginx.conf"),
                 note="nginx.conf from `ops.fleet.lb_config`"),),
    ),
    Role(
        "api", "2 or more", "the dailies API, each running the liveness sweep",
        (Process("api", ("python", "-m", "uvicorn", "api.app:app", "--host", "{self}",
                         "--port", "8000", "--no-access-log"), DAILIES_ENV),),
    ),
    Role(
        "edge", "1 or more", "nginx cache and player in front of the previews bucket and the API",
        (Process("edge", ("dailies", "edge", "--api", "http://{api}:8000"),
                 {**DAILIES_ENV, "DAILIES_EDGE_HOST": "{self}", "DAILIES_EDGE_PORT": "8080"},
                 note="`--api` once per API replica"),),
    ),
    Role(
        "worker", "2 or more", "ladder builds (a cpu-pool worker) and first renditions",
        (
            Process("cpu-worker", ("dailies", "worker", "--pool", "cpu",
                                   "--name", "{hostname}-cpu"),
                    {**DAILIES_ENV, "DAILIES_SCRATCH_DIR": "/tmp/scratch"}),
            Process("task-worker", ("dailies", "task-worker", "--limit", "4"),
                    {**DAILIES_ENV, "PREFECT_API_URL": "http://{replica}:4200/api",
                     "DAILIES_SCRATCH_DIR": "/tmp/scratch"},
                    per_replica=True),
        ),
    ),
)  # fmt: skip


def role(name: str) -> Role:
    return next(r for r in ROLES if r.name == name)


def fill(template: str, values: dict[str, str]) -> str:
    """`template` with every `{name}` replaced; a name not given is an error."""
    return template.format_map(values)


def lb_config(replicas: list[str], listen: str, run_dir: str) -> str:
    """nginx in front of the Prefect API replicas: any replica serves any request (they share
    the database and Redis); websockets (events, logs, task subscriptions) pass through."""
    servers = "\n".join(f"        server {r}:4200 max_fails=1 fail_timeout=5s;" for r in replicas)
    return f"""daemon off;
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {run_dir}/body;
    proxy_temp_path {run_dir}/proxy;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
    upstream prefect {{
{servers}
    }}
    server {{
        listen {listen}:4200;
        client_max_body_size 100m;
        location / {{
            proxy_pass http://prefect;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def _shared(process: Process) -> tuple[str, dict[str, str]]:
    """Which shared block a process's settings start from, and what it adds or changes."""
    for label, base in (("dailies settings", DAILIES_ENV), ("Prefect server settings",
                                                             PREFECT_SERVER_ENV)):  # fmt: skip
        if process.env and all(process.env.get(k) is not None for k in base):
            return label, {k: v for k, v in process.env.items() if base.get(k) != v}
    return "", dict(process.env)


def _shell(argv: tuple[str, ...]) -> str:
    """A command line as typed: quoted where a shell needs it, placeholders left bare."""
    return " ".join(a if re.fullmatch(r"[\w@%+=:,./{}-]+", a) else shlex.quote(a) for a in argv)


def describe() -> str:
    """The table as Markdown: the README's "Scaling out" prints it (scripts/contract_doc.py)."""
    lines = [
        "| role | hosts | for | runs (placeholders: host addresses) |",
        "| --- | --- | --- | --- |",
    ]
    for r in ROLES:
        runs = []
        for process in r.processes:
            label, extra = _shared(process)
            settings = [label] if label else []
            settings += [f"`{k}={v}`" for k, v in extra.items()]
            each = " (one per Prefect API replica)" if process.per_replica else ""
            with_ = f" with {', '.join(settings)}" if settings else ""
            note = f"; {process.note}" if process.note else ""
            runs.append(f"`{_shell(process.argv)}`{each}{with_}{note}")
        lines.append(f"| {r.name} | {r.hosts} | {r.does} | {'<br>'.join(runs)} |")
    for label, block in (("dailies settings", DAILIES_ENV),
                         ("Prefect server settings", PREFECT_SERVER_ENV)):  # fmt: skip
        lines += ["", f"{label}:", "", "```"] + [f"{k}={v}" for k, v in block.items()] + ["```"]
    return "\n".join(lines) + "\n"
