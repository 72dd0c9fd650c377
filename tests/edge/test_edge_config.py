"""The rendered nginx.conf: complete, and accepted by the real nginx (`nginx -t`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dailies.settings import Settings
from ops.edge import find_nginx, render_edge_config


def _render(tmp_path: Path, **overrides: object) -> str:
    kwargs: dict[str, object] = {
        "listen_port": 18080,
        "s3_origin": "http://127.0.0.1:5000",
        "previews_bucket": "previews",
        "api_upstream": "http://127.0.0.1:8000",
        "cache_dir": tmp_path / "cache",
        "player_dir": tmp_path / "player",
        "run_dir": tmp_path,
    }
    kwargs.update(overrides)
    return render_edge_config(Settings(), **kwargs)  # type: ignore[arg-type]


def _nginx_t(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    args = [find_nginx(), "-e", "stderr", "-p", str(tmp_path), "-c", str(config), "-t"]
    return subprocess.run(args, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("api_upstream", "s3_origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:5000"),
        # -t resolves upstream names, and tests run offline: an https origin by a local name.
        (None, "https://localhost:9443"),
        ("127.0.0.1:8000", "http://[::1]:9000"),
        (["http://127.0.0.1:8000", "127.0.0.1:8001"], "http://127.0.0.1:5000"),
    ],
)
def test_rendered_config_passes_nginx_t(
    tmp_path: Path, api_upstream: str | list[str] | None, s3_origin: str
) -> None:
    text = _render(tmp_path, api_upstream=api_upstream, s3_origin=s3_origin)
    assert "{{" not in text
    checked = _nginx_t(tmp_path, text)
    assert checked.returncode == 0, checked.stderr


def test_api_section_only_with_an_api_upstream(tmp_path: Path) -> None:
    with_api = _render(tmp_path)
    without = _render(tmp_path, api_upstream=None)
    assert "proxy_pass http://dailies_api;" in with_api
    assert "server 127.0.0.1:8000;" in with_api
    assert "dailies_api" not in without
    assert "no API behind this edge" in without


def test_each_api_replica_is_an_upstream_server(tmp_path: Path) -> None:
    text = _render(tmp_path, api_upstream=["http://10.0.0.5:8000", "10.0.0.6:8000"])
    upstream = text[text.index("upstream dailies_api {") :].split("}", 1)[0]
    assert "server 10.0.0.5:8000;" in upstream and "server 10.0.0.6:8000;" in upstream


def test_cache_settings_reach_the_config(tmp_path: Path) -> None:
    text = _render(tmp_path, cache_max_size="750m", previews_bucket="reviews-previews")
    assert f'proxy_cache_path "{(tmp_path / "cache").resolve()}"' in text
    assert "max_size=750m" in text
    assert "rewrite ^/previews/(.*)$ /reviews-previews/$1? break;" in text


def test_aws_origin_gets_its_own_host_and_sni(tmp_path: Path) -> None:
    text = _render(tmp_path, s3_origin="https://s3.eu-west-1.amazonaws.com")
    assert "server s3.eu-west-1.amazonaws.com:443;" in text
    # Sent (and signed, edge/njs/dailies.js) through $s3_host.
    assert 'default "s3.eu-west-1.amazonaws.com";' in text
    assert "proxy_set_header Host $s3_host;" in text
    assert 'proxy_ssl_name "s3.eu-west-1.amazonaws.com";' in text
    assert "proxy_pass https://s3_origin;" in text


@pytest.mark.parametrize(
    "bad",
    [
        {"cache_max_size": "10 GB"},
        {"previews_bucket": "Bad_Bucket"},
        {"s3_origin": "ftp://example.com"},
        {"cache_dir": Path('/tmp/has"quote')},
    ],
)
def test_unsafe_values_are_refused(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _render(tmp_path, **bad)
