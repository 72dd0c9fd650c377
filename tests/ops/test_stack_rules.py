"""The pure parts of `dailies up` / `dailies demo`: no servers needed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ops.demo_client import media_playlists
from ops.environment import embedded_environment, throwaway_environment
from ops.prerequisites import StackError, missing_tools, pick_port
from ops.rgw import GiB, bluestore_bytes, render_config

MULTIVARIANT = """#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Stereo",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=5000000,CODECS="avc1.640028,mp4a.40.2",AUDIO="aud"
1080p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=3000000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aud"
720p/index.m3u8
"""


@pytest.mark.parametrize(
    ("multivariant", "expected"),
    [
        (MULTIVARIANT, ["1080p/index.m3u8", "audio/index.m3u8"]),
        ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nsource/index.m3u8\n", ["source/index.m3u8"]),
        ("#EXTM3U\n", []),
    ],
)
def test_a_player_needs_the_first_variant_and_every_audio_rendition(
    multivariant: str, expected: list[str]
) -> None:
    assert media_playlists(multivariant) == expected


def test_embedded_defaults_fill_only_what_the_environment_leaves_unset(tmp_path: Path) -> None:
    ports = {"edge": 18080, "api": 18000, "prefect": 14200, "s3": 15000}
    env, starts = embedded_environment(tmp_path, ports, {})
    assert starts == {"s3": True, "prefect": True}
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:15000"
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:14200/api"
    assert env["DAILIES_EDGE_URL"] == "http://127.0.0.1:18080"
    assert env["DAILIES_DATABASE_URL"].startswith("sqlite:///")

    given = {
        "AWS_ENDPOINT_URL_S3": "https://s3.example",
        "PREFECT_API_URL": "https://prefect.example/api",
        "DAILIES_DATABASE_URL": "postgresql+psycopg://db/dailies",
    }
    env, starts = embedded_environment(tmp_path, ports, given)
    assert starts == {"s3": False, "prefect": False}
    assert not {"AWS_ENDPOINT_URL_S3", "PREFECT_API_URL", "DAILIES_DATABASE_URL"} & set(env)


def test_embedded_rgw_signs_with_its_own_user_and_refuses_a_configured_s3(tmp_path: Path) -> None:
    ports = {"edge": 18080, "api": 18000, "prefect": 14200, "s3": 15000}
    given = {"AWS_ACCESS_KEY_ID": "mine", "AWS_SECRET_ACCESS_KEY": "mine"}
    env, _ = embedded_environment(tmp_path, ports, given, store="rgw")
    assert env["AWS_ACCESS_KEY_ID"] == "dailies" and env["AWS_SECRET_ACCESS_KEY"] != "mine"
    with pytest.raises(StackError, match="AWS_ENDPOINT_URL_S3 names one"):
        embedded_environment(tmp_path, ports, {"AWS_ENDPOINT_URL_S3": "https://s3.example"}, "rgw")


def test_a_throwaway_stack_keeps_everything_in_its_folder_and_a_callers_extras_win(
    tmp_path: Path,
) -> None:
    env = throwaway_environment(
        tmp_path, 15000, 14200, "k", redis_url="redis://r/1", extra={"PREFECT_UI_ENABLED": "true"}
    )
    assert env["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:15000"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "k"
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:14200/api"
    for name in ("DAILIES_HOME", "PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH"):
        assert Path(env[name]).parent == tmp_path, name
    assert env["DAILIES_REDIS_URL"] == "redis://r/1" and "DAILIES_DATABASE_URL" not in env
    assert env["PREFECT_UI_ENABLED"] == "true"


def test_a_taken_default_port_is_swapped_but_a_requested_one_is_an_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert pick_port(None, port) != port
        with pytest.raises(StackError, match=f"port {port} is in use"):
            pick_port(port, 8080)
    assert pick_port(0, 8080) > 0


def test_a_port_whose_last_connections_linger_in_time_wait_is_free() -> None:
    """`dailies up` right after Ctrl-C: the stopped servers' connections are in TIME_WAIT on
    their ports for a minute; nothing listens, so the port is free to take again."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the old check's bind, refused
    assert pick_port(port, 8080) == port


def test_missing_tools_name_the_debian_packages() -> None:
    assert missing_tools("no-such-ffmpeg", "no-such-ffprobe") == ["ffmpeg"]


@pytest.mark.parametrize(
    ("free", "size"),
    [
        (10 * GiB, 8 * GiB),  # a small disk: 80 % of what is free
        (320 * GiB, 256 * GiB),  # where 80 % is exactly the cap
        (2048 * GiB, 256 * GiB),  # a big disk: capped
        (0, 0),
    ],
)
def test_bluestore_file_is_up_to_256_gib_or_80_percent_of_the_free_disk(
    free: int, size: int, tmp_path: Path
) -> None:
    assert bluestore_bytes(free) == size
    conf = render_config(tmp_path, "fsid", 1, 2, bluestore_bytes(free), "bluestore")
    assert f"bluestore block size = {size}\n" in conf
    assert f"bluestore block path = {tmp_path.resolve()}/osd/osd.0.block" in conf


@pytest.mark.parametrize("address", ["127.0.0.1", "10.231.7.11"])
def test_rgw_serves_s3_on_the_address_given_and_keeps_its_cluster_on_loopback(
    address: str, tmp_path: Path
) -> None:
    """Only the gateway (it checks signatures) faces other hosts: the monitor and the OSD run
    without cephx."""
    conf = render_config(tmp_path, "fsid", 1, 2, GiB, address=address)
    assert f"rgw frontends = beast endpoint={address}:2\n" in conf
    assert "mon host = v2:127.0.0.1:1\n" in conf
    assert "public addr = 127.0.0.1\ncluster addr = 127.0.0.1\n" in conf
