import pytest

from dailies.media.progress import ProgressParser, Throttle

BLOCK = """frame=90
fps=45.00
out_time_us={us}
out_time_ms={us}
out_time=00:00:01.500000
speed={speed}
progress={state}
"""


def feed(parser: ProgressParser, text: str):
    updates = [parser.feed(line) for line in text.splitlines()]
    return [u for u in updates if u is not None]


@pytest.mark.parametrize(
    ("duration", "us", "speed", "state", "fraction", "done"),
    [
        (3.0, 1_500_000, "2.5x", "continue", 0.5, False),
        (3.0, 3_000_000, "2.5x", "continue", 0.99, False),  # never 100% before "end"
        (3.0, 3_010_000, "N/A", "end", 1.0, True),
        (0.0, 1_000_000, "1x", "continue", 0.0, False),
        (3.0, -5, "1x", "continue", 0.0, False),
    ],
)
def test_progress_blocks_become_fractions(duration, us, speed, state, fraction, done):
    (update,) = feed(ProgressParser(duration), BLOCK.format(us=us, speed=speed, state=state))
    assert update.fraction == pytest.approx(fraction)
    assert update.done is done


def test_one_update_per_block_and_noise_ignored():
    parser = ProgressParser(10.0)
    text = "garbage\n" + BLOCK.format(us=1_000_000, speed="1x", state="continue") * 3
    updates = feed(parser, text)
    assert len(updates) == 3 and updates[0].speed == 1.0


def test_throttle_allows_one_report_per_interval_and_always_the_last():
    now = [0.0]
    throttle = Throttle(2.0, clock=lambda: now[0])
    seen = []
    for t in (0.0, 0.5, 1.9, 2.0, 2.1, 4.5):
        now[0] = t
        seen.append(throttle.ready())
    assert seen == [True, False, False, True, False, True]
    assert throttle.ready(final=True)
