"""The edge cache: nginx in front of the previews bucket, the player page and the API.

`render_edge_config` is pure (settings and paths in, nginx.conf text out); `start_edge`
writes it under a run directory, has `nginx -t` check it and runs nginx as a child."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from dailies.fleet_rules import GRANT_SECRET, WHY, is_remote
from dailies.grant_secret import grant_secret
from dailies.settings import Settings
from ops import PROJECT_DIR
from ops.errors import EdgeConfigInvalid, EdgeError, NginxMissing, PlayerIncomplete
from ops.processes import LOG_MODE, Service, spawn, wait_http

EDGE_DIR = PROJECT_DIR / "edge"
TEMPLATE = EDGE_DIR / "nginx.conf.template"
PLAYER_DIR = EDGE_DIR / "player"
NJS_DIR = EDGE_DIR / "njs"
NGINX_CANDIDATES = ("/usr/sbin/nginx",)
# Debian's libnginx-mod-http-js (njs): the grant check and SigV4 signing need it.
JS_MODULE_CANDIDATES = ("/usr/lib/nginx/modules/ngx_http_js_module.so",)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HEALTH_PATH = "/_edge/health"
# What nginx creates (a reopened access log, cache files) is the owner's and its group's only.
EDGE_UMASK = 0o027

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_SECTION = re.compile(r"^# \{\{([#^])(\w+)\}\}\n(.*?)^# \{\{/\2\}\}\n", re.S | re.M)


def render_edge_config(
    settings: Settings,
    *,
    listen_port: int,
    s3_origin: str,
    previews_bucket: str,
    api_upstream: str | Sequence[str] | None,
    cache_dir: Path,
    player_dir: Path,
    run_dir: Path,
    cache_max_size: str = "10g",
    worker_user: str | None = None,
    access_log: Path | None = None,
    js_module: Path | None = None,
) -> str:
    """nginx.conf for the edge. `s3_origin` is the S3 endpoint URL (path-style requests);
    `api_upstream` a URL or host:port of the FastAPI app, or several (replicas: nginx spreads
    requests over them and passes one a replica refused to the next), None for an edge
    without API;
    `worker_user` ("user" or "user group") only matters when nginx starts as root;
    `access_log` defaults to run_dir/access.log; `js_module` is njs's nginx module (found
    on this machine when not given). Secrets are not in the text: see `edge_environment`."""
    upstreams = [api_upstream] if isinstance(api_upstream, str) else list(api_upstream or [])
    origin = urlsplit(s3_origin if "://" in s3_origin else f"http://{s3_origin}")
    if origin.scheme not in {"http", "https"} or not origin.hostname:
        raise ValueError(f"S3 origin must be an http(s) URL, got {s3_origin!r}")
    default_port = 443 if origin.scheme == "https" else 80
    port = origin.port or default_port
    if not re.fullmatch(r"\d+[kmgKMG]?", cache_max_size):
        raise ValueError(f"cache_max_size must look like 10g or 500m, got {cache_max_size!r}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", previews_bucket):
        raise ValueError(f"not an S3 bucket name: {previews_bucket!r}")

    values = {
        "user_directive": f"user {worker_user};" if worker_user else "",
        "js_module": _path(js_module or find_js_module()),
        "njs_dir": _path(NJS_DIR),
        "empty_sha256": EMPTY_SHA256,
        "listen_host": settings.edge_host,
        "listen_port": str(int(listen_port)),
        "run_dir": _path(run_dir),
        "access_log": _path(access_log or run_dir / "access.log"),
        "cache_dir": _path(cache_dir),
        "player_dir": _path(player_dir),
        "cache_max_size": cache_max_size,
        "playlist_ttl_s": str(settings.edge_playlist_ttl_s),
        "previews_bucket": previews_bucket,
        "origin_scheme": origin.scheme,
        "origin_hostname": origin.hostname,
        "origin_hostport": f"{_host(origin.hostname)}:{port}",
        # S3 signs nothing here, but virtual-host detection (moto's included) reads Host.
        "origin_host_header": origin.netloc.rsplit("@", 1)[-1]
        if origin.port
        else _host(origin.hostname),
        "api_servers": "\n        ".join(f"server {_hostport(u)};" for u in upstreams),
    }
    text = _keep_sections(TEMPLATE.read_text(), {"api": bool(upstreams)})
    return _fill(text, values)


def start_edge(
    settings: Settings,
    *,
    port: int,
    api_upstream: str | Sequence[str] | None,
    run_dir: Path,
    log_dir: Path,
    player_dir: Path = PLAYER_DIR,
) -> Service:
    """Render the config under run_dir, check it with `nginx -t`, run nginx in the
    foreground as a child and wait until it answers on loopback. Refused first: a player
    without hls.js, and an edge before API replicas on other hosts with a grant key of
    its own host (dailies/fleet_rules.py)."""
    if not (hls := player_dir / "vendor" / "hls.min.js").exists():
        raise PlayerIncomplete(hls)
    upstreams = [api_upstream] if isinstance(api_upstream, str) else list(api_upstream or [])
    remote = [u for u in upstreams if is_remote(u if "://" in u else f"http://{u}")]
    if remote and settings.preview_grant_secret is None:
        raise EdgeError(
            f"{GRANT_SECRET} is not set, and the API is on another host ({remote[0]}): "
            f"{WHY[GRANT_SECRET]}"
        )
    nginx = find_nginx()
    run_dir = run_dir.resolve()
    cache_dir = (settings.edge_cache_dir or settings.home / "edge-cache").resolve()
    for path in (run_dir / "tmp", cache_dir, log_dir):
        path.mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    access_log = log_dir.resolve() / "edge-access.log"
    config.write_text(
        render_edge_config(
            settings,
            listen_port=port,
            s3_origin=s3_origin_for(settings),
            previews_bucket=settings.previews_bucket,
            api_upstream=api_upstream,
            cache_dir=cache_dir,
            player_dir=player_dir,
            run_dir=run_dir,
            cache_max_size=settings.edge_cache_max_size,
            worker_user=_current_user() if os.geteuid() == 0 else None,
            access_log=access_log,
        )
    )
    args = [nginx, *_early_log_args(nginx), "-p", str(run_dir), "-c", str(config)]
    check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise EdgeConfigInvalid(config, check.stdout + check.stderr)
    log_path = log_dir / "edge.log"
    url = f"http://{settings.edge_host}:{port}"
    environment = {**os.environ, **edge_environment(settings)}
    # nginx makes its access log 0644 less the umask (`nginx -t` above made it already); the
    # log's grants are redacted, but who watched what, when, is not for every local user.
    access_log.touch(mode=LOG_MODE)
    access_log.chmod(LOG_MODE)
    service = spawn(
        "edge", [*args, "-g", "daemon off;"], url, log_path, environment, umask=EDGE_UMASK
    )
    try:
        wait_http(url + HEALTH_PATH, 15, service.proc)
    except (RuntimeError, TimeoutError) as exc:
        service.stop()
        tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
        raise EdgeError(f"nginx did not start on {url}: {exc}\n{tail}") from exc
    service.extra.update(
        config=str(config),
        cache_dir=str(cache_dir),
        access_log=str(access_log),
    )
    return service


def s3_origin_for(settings: Settings) -> str:
    """The S3 endpoint the edge fetches from: the configured one, else AWS's regional one."""
    if settings.s3_endpoint_url:
        return settings.s3_endpoint_url
    return f"https://s3.{settings.aws_region}.amazonaws.com"


def edge_environment(settings: Settings) -> dict[str, str]:
    """What edge/njs/dailies.js reads: the grant key and the credentials it signs origin
    requests with (boto3's own chain, so the edge reads the bucket as the stack does).
    Temporary credentials are read once: restart the edge when they rotate."""
    import boto3

    environment = {
        "DAILIES_EDGE_GRANT_SECRET": grant_secret(settings).decode(),
        "DAILIES_EDGE_S3_REGION": settings.aws_region,
    }
    found = boto3.session.Session().get_credentials()
    if found is None:
        raise EdgeError(
            "no S3 credentials for the edge: the previews bucket is private "
            "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)"
        )
    credentials = found.get_frozen_credentials()
    environment["DAILIES_EDGE_S3_ACCESS_KEY_ID"] = credentials.access_key
    environment["DAILIES_EDGE_S3_SECRET_ACCESS_KEY"] = credentials.secret_key
    if credentials.token:
        environment["DAILIES_EDGE_S3_SESSION_TOKEN"] = credentials.token
    return environment


def find_js_module() -> Path:
    for candidate in JS_MODULE_CANDIDATES:
        if os.access(candidate, os.R_OK):
            return Path(candidate)
    raise EdgeError(
        "nginx's njs module is missing: apt-get install -y libnginx-mod-http-js "
        "(or scripts/ensure-system.sh)"
    )


def find_nginx() -> str:
    for candidate in NGINX_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("nginx")
    if found is None:
        raise NginxMissing()
    return found


def _early_log_args(nginx: str) -> list[str]:
    """`-e stderr` (nginx >= 1.19.5) keeps a non-root nginx from complaining about the
    compiled-in /var/log/nginx/error.log before it has read our error_log line."""
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    if found and tuple(int(n) for n in found.groups()) >= (1, 19, 5):
        return ["-e", "stderr"]
    return []


def _current_user() -> str:
    # As root, workers would otherwise drop to "nobody" and lose access to run_dir and
    # the cache; run them as whoever started the edge.
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


def _keep_sections(text: str, flags: dict[str, bool]) -> str:
    def pick(match: re.Match[str]) -> str:
        kind, name, body = match.groups()
        return body if flags[name] == (kind == "#") else ""

    return _SECTION.sub(pick, text)


def _fill(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, text)


def _path(path: Path) -> str:
    text = str(Path(path).resolve())
    if '"' in text or "\n" in text:
        raise ValueError(f"unusable path for nginx.conf: {text!r}")
    return text


def _host(hostname: str) -> str:
    return f"[{hostname}]" if ":" in hostname else hostname


def _hostport(upstream: str) -> str:
    parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
    if not parts.hostname:
        raise ValueError(f"API upstream must be a URL or host:port, got {upstream!r}")
    return f"{_host(parts.hostname)}:{parts.port or 80}"
