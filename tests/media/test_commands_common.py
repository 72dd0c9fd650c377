import ffmpeg

from dailies.media.commands.common import finish_args, progress_args, segment_prefix


def test_segment_names_carry_the_ladder_version():
    assert segment_prefix("3") == "v3"


def test_global_options_come_first_and_overwrite():
    args = finish_args(ffmpeg.input("/s/in").output("/s/out"), "/opt/ffmpeg")
    assert args[0] == "/opt/ffmpeg"
    assert args[1 : 1 + len(progress_args())] == progress_args()
    assert args[1 + len(progress_args())] == "-y" and args[-1] == "/s/out"


def test_every_command_reads_its_input_under_a_protocol_whitelist(tmp_path):
    from dailies.media.commands.common import LOCAL_PROTOCOLS, URL_PROTOCOLS, input_protocols
    from dailies.media.commands.mp4 import build_mp4_args
    from dailies.media.commands.poster import build_poster_args
    from dailies.media.commands.probe import ffprobe_args

    assert input_protocols("/scratch/master") == LOCAL_PROTOCOLS == "file"
    assert input_protocols("https://s3/masters/abc?X-Amz-Signature=1") == URL_PROTOCOLS
    for args in (
        ffprobe_args("ffprobe", "/scratch/master"),
        build_mp4_args(tmp_path / "v.mp4", tmp_path / "a.mp4", tmp_path / "o.mp4"),
        build_poster_args(tmp_path / "v.mp4", 10.0, tmp_path / "p.jpg"),
    ):
        # before each input it guards
        assert args.count("-protocol_whitelist") == args.count("-i") or "ffprobe" in args[0]
        assert "-protocol_whitelist" in args


def test_a_master_that_points_elsewhere_reads_nothing_there(tmp_path):
    """A crafted 'master' (an HLS playlist naming a URL) is refused without a request."""
    import http.server
    import threading

    import pytest

    from dailies.errors import UnplayableMaster
    from dailies.media.commands.probe import ffprobe_args
    from dailies.media.runner import run_ffprobe

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        crafted = tmp_path / "master.m3u8"
        url = f"http://127.0.0.1:{server.server_address[1]}/secret.ts"
        crafted.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{url}\n#EXT-X-ENDLIST\n")
        with pytest.raises(UnplayableMaster):
            run_ffprobe(ffprobe_args("ffprobe", str(crafted)))
    finally:
        server.shutdown()
    assert hits == []
