from dailies.media.commands.probe import ffprobe_args


def test_ffprobe_prints_format_and_streams_as_json_for_the_source_last():
    args = ffprobe_args("/opt/ffprobe", "https://s3/masters/x?sig=1")
    assert args[0] == "/opt/ffprobe" and args[-1] == "https://s3/masters/x?sig=1"
    assert args[args.index("-print_format") + 1] == "json"
    assert "-show_format" in args and "-show_streams" in args
