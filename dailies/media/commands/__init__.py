"""Pure ffmpeg/ffprobe argument builders, one module per job: each returns an argv and runs
nothing. Running them is dailies/media/runner.py."""
