"""Settings renamed for what they name keep reading their old environment names, so an
operator's existing configuration still takes effect."""

from __future__ import annotations

import pytest

from dailies.settings import Settings

FIRST_RENDITION_NAMES = ["DAILIES_PREVIEW_FIRST_RENDITION", "DAILIES_PREVIEW_FIRST_PLAY"]
INTERVAL_NAMES = [
    "DAILIES_FIRST_RENDITION_PUBLISH_INTERVAL_S",
    "DAILIES_FIRST_PLAY_PUBLISH_INTERVAL_S",
]


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FIRST_RENDITION_NAMES + INTERVAL_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_the_first_rendition_is_on_by_default() -> None:
    settings = Settings()
    assert settings.preview_first_rendition is True
    assert settings.first_rendition_publish_interval_s == 0.05


@pytest.mark.parametrize("name", FIRST_RENDITION_NAMES)
def test_the_first_rendition_is_turned_off_by_its_new_or_old_name(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "false")
    assert Settings().preview_first_rendition is False


@pytest.mark.parametrize("name", INTERVAL_NAMES)
def test_the_publish_interval_is_read_by_its_new_or_old_name(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "0.2")
    assert Settings().first_rendition_publish_interval_s == 0.2


def test_the_new_name_wins_over_the_old() -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAILIES_PREVIEW_FIRST_PLAY", "false")
        env.setenv("DAILIES_PREVIEW_FIRST_RENDITION", "true")
        assert Settings().preview_first_rendition is True
