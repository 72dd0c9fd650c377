"""Notes on a master's frames and approvals, through the served API on the session's Postgres
and Prefect server: who may write, edit and resolve, what is refused, the exports read back,
and the approval event read back from Prefect's events API."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import opentimelineio as otio
import pytest

from tests.api.conftest import _client, insert_master

NTSC30 = 30000 / 1001


def _master(settings: Any, rate: str, timecode: str, frames: int) -> str:
    """A masters row whose stored probe says its rate, start timecode and length."""
    from dailies.clients import session_scope
    from dailies.db.models import Master

    sha = insert_master(settings)
    probe = {
        "streams": [
            {"codec_type": "video", "avg_frame_rate": rate, "nb_frames": str(frames)},
            {"codec_type": "data", "codec_tag_string": "tmcd", "tags": {"timecode": timecode}},
        ],
        "format": {"duration": "20.0"},
    }
    with session_scope(settings) as session:
        row = session.get(Master, sha)
        assert row is not None
        row.probe = probe
    return sha


@pytest.fixture
def df_master(stack: Any) -> str:
    return _master(stack, "30000/1001", "00:00:00;00", 20_000)


@pytest.fixture
def pal_master(stack: Any) -> str:
    return _master(stack, "25/1", "10:00:00:00", 20_000)


@pytest.fixture(scope="module")
def second_reviewer_token(stack: Any) -> str:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        _, token = api_keys.create_key(session, "reviewer", name="tests-reviewer-2")
    return token


@pytest.fixture
def other_reviewer(api_url: str, second_reviewer_token: str) -> Iterator[httpx.Client]:
    with _client(api_url, second_reviewer_token) as client:
        yield client


def _post(client: httpx.Client, sha: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/masters/{sha}/notes", json={"text": "note", **body})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_note_carries_its_source_timecode_author_and_drawing(
    reviewer: httpx.Client, df_master: str
) -> None:
    drawing = {"strokes": [{"color": "#ff3b30", "width": 0.004, "points": [[0.1, 0.2], [0.5, 1]]}]}
    note = _post(reviewer, df_master, frame_in=1800, frame_out=17982, drawing=drawing)
    assert (note["timecode_in"], note["timecode_out"]) == ("00:01:00;02", "00:10:00;00")
    assert note["author"] == "tests-reviewer" and note["resolved"] is False
    assert note["drawing"]["strokes"][0]["points"] == [[0.1, 0.2], [0.5, 1.0]]
    listed = reviewer.get(f"/api/masters/{df_master}/notes").json()
    assert listed["timing"] == {
        "start_timecode": "00:00:00;00", "frame_rate": "30000/1001", "drop_frame": True,
        "frame_count": 20_000,
    }  # fmt: skip
    assert [n["note_id"] for n in listed["notes"]] == [note["note_id"]]


def test_replies_nest_one_level_and_pages_follow_the_keyset(
    reviewer: httpx.Client, other_reviewer: httpx.Client, df_master: str
) -> None:
    made = [_post(reviewer, df_master, frame_in=i) for i in range(5)]
    reply = other_reviewer.post(
        f"/api/masters/{df_master}/notes/{made[0]['note_id']}/replies", json={"text": "agreed"}
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["parent_id"] == made[0]["note_id"]
    assert reply.json()["author"] == "tests-reviewer-2"
    nested = reviewer.post(
        f"/api/masters/{df_master}/notes/{reply.json()['note_id']}/replies", json={"text": "x"}
    )
    assert nested.status_code == 422
    seen, after = [], 0
    while True:
        page = reviewer.get(f"/api/masters/{df_master}/notes", params={"after": after, "limit": 2})
        assert page.status_code == 200
        body = page.json()
        seen += body["notes"]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert [n["note_id"] for n in seen] == [n["note_id"] for n in made]  # replies not top-level
    assert [r["text"] for r in seen[0]["replies"]] == ["agreed"]


def test_only_the_author_edits_or_deletes_and_only_editors_resolve(
    reviewer: httpx.Client,
    other_reviewer: httpx.Client,
    editor: httpx.Client,
    admin: httpx.Client,
    df_master: str,
) -> None:
    note = _post(reviewer, df_master, frame_in=10)
    url = f"/api/masters/{df_master}/notes/{note['note_id']}"
    assert other_reviewer.patch(url, json={"text": "mine now"}).status_code == 403
    assert other_reviewer.delete(url).status_code == 403
    assert reviewer.post(f"{url}/resolve").status_code == 403
    edited = reviewer.patch(url, json={"text": "  warmer  "})
    assert edited.status_code == 200 and edited.json()["text"] == "warmer"
    assert edited.json()["updated_at"] is not None
    resolved = editor.post(f"{url}/resolve")
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["resolved"], resolved.json()["resolved_by"]) == (True, "tests-editor")
    reopened = admin.post(f"{url}/unresolve").json()
    assert (reopened["resolved"], reopened["resolved_by"]) == (False, None)
    assert reviewer.delete(url).status_code == 204
    assert reviewer.patch(url, json={"text": "gone"}).status_code == 404
    other = _post(other_reviewer, df_master, frame_in=11)
    assert admin.delete(f"/api/masters/{df_master}/notes/{other['note_id']}").status_code == 204


def _drawing(points: list[list[float]], color: str = "#ffffff", strokes: int = 1) -> dict:
    return {"strokes": [{"color": color, "points": points}] * strokes}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"frame_in": 20_000}, 422),  # one past the last frame
        ({"frame_in": -1}, 422),
        ({"frame_in": 10, "frame_out": 9}, 422),
        ({"frame_in": 10, "frame_out": 20_000}, 422),
        ({"frame_in": 1, "text": "   "}, 422),
        ({"frame_in": 1, "text": "x" * 4001}, 422),
        ({"frame_in": 1, "drawing": _drawing([[0, 0]], color="red")}, 422),
        ({"frame_in": 1, "drawing": _drawing([[1.5, 0]])}, 422),
        # 65 strokes, and 12,000 points in 6 strokes: over the caps, well under the body's.
        ({"frame_in": 1, "drawing": _drawing([[0, 0]], strokes=65)}, 422),
        ({"frame_in": 1, "drawing": _drawing([[0, 0]] * 2000, strokes=6)}, 422),
        ({"frame_in": 1, "drawing": _drawing([[0.5, 0.5]] * 200_000)}, 413),  # over 1 MiB
        ({"frame_in": 1, "extra": float("nan")}, 422),
    ],
)  # fmt: skip
def test_bad_notes_are_refused(
    reviewer: httpx.Client, df_master: str, body: dict[str, Any], status: int
) -> None:
    response = reviewer.post(
        f"/api/masters/{df_master}/notes",
        content=json.dumps({"text": "note", **body}),  # NaN written as JSON cannot
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text


def test_unknown_masters_and_anonymous_callers(
    reviewer: httpx.Client, anonymous: httpx.Client, stack: Any
) -> None:
    unknown = "ab" * 32
    assert reviewer.get(f"/api/masters/{unknown}/notes").status_code == 404
    assert (
        reviewer.post(
            f"/api/masters/{unknown}/notes", json={"frame_in": 0, "text": "x"}
        ).status_code
        == 404
    )
    assert reviewer.get(f"/api/masters/{unknown}/notes.csv").status_code == 404
    assert (
        reviewer.put(f"/api/masters/{unknown}/approval", json={"status": "approved"}).status_code
        == 404
    )
    assert reviewer.get(f"/api/masters/{unknown}/notes/1/x").status_code == 404
    assert anonymous.get(f"/api/masters/{unknown}/notes").status_code == 401
    # A master with neither a probe nor a preview: no frames to put a note on.
    bare = insert_master(stack)
    assert (
        reviewer.post(f"/api/masters/{bare}/notes", json={"frame_in": 0, "text": "x"}).status_code
        == 422
    )


def test_exports_read_back_at_the_masters_timecode(
    reviewer: httpx.Client, editor: httpx.Client, df_master: str, pal_master: str
) -> None:
    for sha in (df_master, pal_master):
        first = _post(reviewer, sha, frame_in=1800, text="=warm")
        _post(reviewer, sha, frame_in=17982, frame_out=17990, text="range")
        editor.post(f"/api/masters/{sha}/notes/{first['note_id']}/resolve")
        reviewer.post(f"/api/masters/{sha}/notes/{first['note_id']}/replies", json={"text": "ok"})

    rows = list(
        csv.DictReader(io.StringIO(reviewer.get(f"/api/masters/{df_master}/notes.csv").text))
    )
    assert [(r["timecode_in"], r["text"], r["resolved"]) for r in rows] == [
        ("00:01:00;02", "'=warm", "yes"),
        ("00:10:00;00", "range", "no"),
        ("00:01:00;02", "ok", "no"),
    ]

    for sha, rate, drop, labels in (
        (df_master, NTSC30, True, ["00:01:00;02", "00:10:00;00"]),
        (pal_master, 25.0, False, ["10:01:12:00", "10:11:59:07"]),
    ):
        edl = reviewer.get(f"/api/masters/{sha}/notes.edl")
        assert edl.status_code == 200 and "attachment" in edl.headers["content-disposition"]
        timeline = otio.adapters.read_from_string(edl.text, "cmx_3600", rate=rate)
        clips = [c for c in timeline.tracks[0] if isinstance(c, otio.schema.Clip)]
        assert [
            otio.opentime.to_timecode(c.source_range.start_time, rate, drop) for c in clips
        ] == labels
        fcpxml = reviewer.get(f"/api/masters/{sha}/notes.fcpxml")
        assert fcpxml.status_code == 200
        # Keep the collection referenced: OTIO frees its children with it (a segfault).
        collection = otio.adapters.read_from_string(fcpxml.text, "fcpx_xml")
        track = next(iter(collection)).tracks[0]
        clip = next(c for c in track if isinstance(c, otio.schema.Clip))
        assert sorted(m.name for m in clip.markers) == ["=warm", "range"]
        if not drop:  # the adapter rounds 29.97 to 29 (tests/test_note_exports.py checks DF)
            assert [
                otio.opentime.to_timecode(m.marked_range.start_time, 25) for m in clip.markers
            ] == labels


async def _approval_events(sha: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    async with get_client() as client:
        page = await client.read_events(
            EventFilter(
                event=EventNameFilter(name=["dailies.approval.changed"]),
                resource=EventResourceFilter(id=[f"dailies.master.{sha}"]),
            ),
            limit=10,
        )
        return list(page.events)


def test_approvals_per_reviewer_and_each_change_is_a_prefect_event(
    reviewer: httpx.Client, other_reviewer: httpx.Client, df_master: str
) -> None:
    url = f"/api/masters/{df_master}/approval"
    first = reviewer.put(url, json={"status": "needs_changes"})
    assert first.status_code == 200, first.text
    assert (first.json()["previous"], first.json()["changed"]) == ("none", True)
    assert reviewer.put(url, json={"status": "needs_changes"}).json()["changed"] is False
    assert reviewer.put(url, json={"status": "approved"}).json()["previous"] == "needs_changes"
    assert other_reviewer.put(url, json={"status": "approved"}).status_code == 200
    assert reviewer.put(url, json={"status": "maybe"}).status_code == 422
    answer = reviewer.get(url).json()
    assert (answer["caller"]["name"], answer["caller"]["role"]) == ("tests-reviewer", "reviewer")
    listed = answer["approvals"]
    assert {(a["name"], a["status"]) for a in listed} == {
        ("tests-reviewer", "approved"), ("tests-reviewer-2", "approved"),
    }  # fmt: skip

    deadline, events = time.monotonic() + 30, []
    while len(events) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        events = asyncio.run(_approval_events(df_master))
    got = sorted(
        (e.payload["reviewer"], e.payload["previous"], e.payload["status"]) for e in events
    )
    assert got == [
        ("tests-reviewer", "needs_changes", "approved"),
        ("tests-reviewer", "none", "needs_changes"),
        ("tests-reviewer-2", "none", "approved"),
    ]  # the unchanged PUT sent none
    assert all(e.resource.id == f"dailies.master.{df_master}" for e in events)
    assert {e.related[0].name for e in events} == {"tests-reviewer", "tests-reviewer-2"}
