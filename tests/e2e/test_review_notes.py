"""Notes on the frame and approvals on the review page (issue 26 items 3-4), in headless
Chromium through the edge and the real API: N writes a note at the frame on screen, I/O a
range, a drawing over the picture is saved as normalised strokes; each is read back from the
API at its frame and source timecode (a 29.97 drop-frame master), marked on the scrub bar, and
a click on it brings the picture (read from its burned-in frame index) back to its frame.
Replies, resolve (an editor's; a reviewer is not offered it) and approvals round-trip too. All
under the page's Content-Security-Policy, with no violation."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from dailies.timecode import source_timing
from ops.processes import Service
from tests.e2e.test_review_page import MASTERS, _settle, make_timecoded_master

pytestmark = pytest.mark.slow

RATE, START, _ = MASTERS["29.97DF"]
TIMING = source_timing(START, Fraction(RATE))
WATCH_VIOLATIONS = (
    "window.violations = []; document.addEventListener('securitypolicyviolation',"
    " (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));"
)


@pytest.fixture(scope="module")
def master(deployed: Any, stack: Any, tmp_path_factory: Any) -> str:
    """A 29.97 DF master (frame index burned in) promoted with its preview built."""
    from dailies.clients import s3_client
    from flows.preview import build_preview
    from tests.preview_fixtures import stage_and_promote

    path = tmp_path_factory.mktemp("notes") / "notes.mov"
    make_timecoded_master(path, RATE, START)
    preset, stack.x264_preset = stack.x264_preset, "superfast"
    try:
        sha = stage_and_promote(s3_client(stack), stack, path)
        assert build_preview(sha)["status"] == "ready"
    finally:
        stack.x264_preset = preset
    return sha  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def editor_token(stack: Any) -> str:
    from dailies.clients import session_scope
    from dailies.db import api_keys

    with session_scope(stack) as session:
        return api_keys.create_key(session, "editor", "e2e-notes-editor")[1]


@pytest.fixture
def as_reviewer(edge: Service, reviewer_token: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {reviewer_token}"}
    with httpx.Client(base_url=edge.url, headers=headers) as client:
        yield client


CONSOLE: dict[int, list[str]] = {}  # each page's console lines, by id(page)


def _open(browser: Any, edge: Service, sha: str, token: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.add_init_script(WATCH_VIOLATIONS)
    lines = CONSOLE.setdefault(id(page), [])
    page.on("console", lambda message: lines.append(message.text))
    page.goto(f"{edge.url}/watch/{sha}#token={token}")
    page.wait_for_function(
        "() => window.dailiesPlayer && dailiesPlayer.timing && dailiesPlayer.playingAt",
        timeout=60_000,
    )
    page.wait_for_selector("#notes", state="visible", timeout=15_000)
    page.keyboard.press("k")  # stopped, as a reviewer is when writing a note
    return page


def _at(page: Any, frame: int) -> None:
    page.evaluate(f"() => dailiesPlayer.controls.seekFrame({frame})")
    _settle(page, frame)


def _no_violations(page: Any) -> None:
    assert page.evaluate("() => window.violations") == []
    refused = [line for line in CONSOLE[id(page)] if "Content Security Policy" in line]
    assert refused == [], refused


def _notes(client: httpx.Client, sha: str) -> dict[str, dict[str, Any]]:
    answer = client.get(f"/api/masters/{sha}/notes", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    return {note["text"]: note for note in answer.json()["notes"]}


def test_n_writes_a_note_at_the_frame_on_screen_marked_and_clicked_back_to(
    master: str, browser: Any, edge: Service, reviewer_token: str, as_reviewer: httpx.Client
) -> None:
    text = f"Look: flame in the kick, jam more warmth {secrets.token_hex(3)}"
    page = _open(browser, edge, master, reviewer_token)
    try:
        _at(page, 40)
        page.keyboard.press("n")
        page.wait_for_selector(".notes-compose", state="visible")
        assert "00:01:01;10" in page.inner_text(".notes-where")
        # Typed into the note, never the player's keys: space, J/K/L, f and m do nothing.
        page.keyboard.type(text)
        assert page.evaluate(
            "() => { const v = document.querySelector('video');"
            " return v.paused && !v.muted && !document.fullscreenElement; }"
        )
        assert page.input_value(".notes-compose textarea") == text
        _settle(page, 40)
        page.click(".notes-compose button:text-is('Save')")
        page.wait_for_selector(f"#notes li.note:has-text('{text}')")

        note = _notes(as_reviewer, master)[text]
        assert (note["frame_in"], note["frame_out"], note["drawing"]) == (40, None, None)
        assert note["timecode_in"] == TIMING.label_at(40) == "00:01:01;10"
        assert note["author"] == "e2e-player"

        # Its marker on the scrub bar, where frame 40 is on the bar.
        marker = f"#scrub .note-marker[data-note-id='{note['note_id']}']"
        left = page.eval_on_selector(marker, "(m) => parseFloat(m.style.left)")
        count = page.evaluate("() => dailiesPlayer.notes && dailiesPlayer.notes.loaded")
        assert count >= 1
        frames = as_reviewer.get(f"/api/masters/{master}/notes").json()["timing"]["frame_count"]
        assert left == pytest.approx(100 * 40 / frames, abs=0.01)

        # Elsewhere, then a click on the note: the picture is its frame again.
        _at(page, 0)
        page.click(f"#notes li.note[data-note-id='{note['note_id']}'] .note-seek")
        _settle(page, 40)
        assert page.evaluate("() => [dailiesPlayer.frame, dailiesPlayer.notes.selected.frame]") == [
            40, 40,
        ]  # fmt: skip
        assert page.inner_text("#timecode") == "00:01:01;10"

        # Esc while writing: nothing is saved.
        page.keyboard.press("n")
        page.keyboard.type("never saved")
        page.keyboard.press("Escape")
        assert page.is_hidden(".notes-compose")
        assert "never saved" not in _notes(as_reviewer, master)
        _no_violations(page)
    finally:
        page.close()


def test_i_o_range_with_a_drawing_reads_back_from_the_api_and_draws_over_its_frame(
    master: str, browser: Any, edge: Service, reviewer_token: str, as_reviewer: httpx.Client
) -> None:
    text = f"Boom in frame, paint it out {secrets.token_hex(3)}"
    page = _open(browser, edge, master, reviewer_token)
    try:
        _at(page, 10)
        page.keyboard.press("i")
        _at(page, 20)
        page.keyboard.press("o")
        assert page.evaluate("() => dailiesPlayer.notes.marks") == {"in": 10, "out": 20}
        assert page.locator("#scrub .note-marker.pending").count() == 1
        page.keyboard.press("n")
        _settle(page, 10)  # written on the range's first frame
        assert "(frames 10–20)" in page.inner_text(".notes-where")

        page.evaluate("() => scrollTo(0, 0)")  # the picture all in view (the form scrolled it)
        box = page.locator(".notes-canvas").bounding_box()
        page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.25 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.75 * box["height"], steps=10)
        page.mouse.up()
        assert page.evaluate("() => dailiesPlayer.notes.drawn") == 1
        page.click(".notes-compose textarea")
        page.keyboard.type(text)
        page.keyboard.press("Control+Enter")
        page.wait_for_selector(f"#notes li.note:has-text('{text}')")
        assert page.locator("#scrub .note-marker.pending").count() == 0

        note = _notes(as_reviewer, master)[text]
        assert (note["frame_in"], note["frame_out"]) == (10, 20)
        assert (note["timecode_in"], note["timecode_out"]) == (
            TIMING.label_at(10), TIMING.label_at(20),
        )  # fmt: skip
        [stroke] = note["drawing"]["strokes"]
        assert stroke["color"] == "#ff3b30" and len(stroke["points"]) >= 2
        assert stroke["points"][0] == pytest.approx([0.25, 0.25], abs=0.02)
        assert stroke["points"][-1] == pytest.approx([0.75, 0.75], abs=0.02)
        marker = f"#scrub .note-marker[data-note-id='{note['note_id']}']"
        width = page.eval_on_selector(marker, "(m) => m.getBoundingClientRect().width")
        bar = page.eval_on_selector("#scrub", "(s) => s.getBoundingClientRect().width")
        frames = as_reviewer.get(f"/api/masters/{master}/notes").json()["timing"]["frame_count"]
        assert width == pytest.approx(bar * 11 / frames, abs=1.5)

        # Read back: selecting the note draws its strokes over its frame (the middle of the
        # picture lies on the diagonal drawn), and playing takes the drawing away.
        _at(page, 0)
        assert page.evaluate("() => dailiesPlayer.notes.drawn") == 0
        page.click(f"#notes li.note[data-note-id='{note['note_id']}'] .note-seek")
        _settle(page, 10)
        ink = page.evaluate(
            "() => { const c = document.querySelector('.notes-canvas');"
            " return c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data[3]; }"
        )
        assert page.evaluate("() => dailiesPlayer.notes.drawn") == 1 and ink > 0
        page.keyboard.press("l")
        page.wait_for_function("() => dailiesPlayer.notes.drawn === 0", timeout=5_000)
        _no_violations(page)
    finally:
        page.close()


def test_replies_resolve_for_editors_only_and_approvals_round_trip(
    master: str, browser: Any, edge: Service, reviewer_token: str, editor_token: str,
    as_reviewer: httpx.Client,
) -> None:  # fmt: skip
    text = f"Sound drops at the cut {secrets.token_hex(3)}"
    made = as_reviewer.post(f"/api/masters/{master}/notes", json={"frame_in": 30, "text": text})
    assert made.status_code == 201, made.text
    note_id = made.json()["note_id"]
    item = f"#notes li.note[data-note-id='{note_id}']"

    page = _open(browser, edge, master, reviewer_token)
    try:
        page.wait_for_selector(item)
        assert page.locator(f"{item} .note-resolve").count() == 0  # a reviewer's token
        page.fill(f"{item} .note-actions input", "agreed, from the mix")
        page.press(f"{item} .note-actions input", "Enter")
        page.wait_for_selector(f"{item} .note-replies li:has-text('agreed, from the mix')")
        [reply] = _notes(as_reviewer, master)[text]["replies"]
        assert (reply["text"], reply["author"]) == ("agreed, from the mix", "e2e-player")

        url = f"/api/masters/{master}/approval"
        for button, status in [("Approve", "approved"), ("Needs changes", "needs_changes")]:
            page.click(f".notes-approval button:text-is('{button}')")
            page.wait_for_function(f"() => dailiesPlayer.notes.approval === '{status}'")
            listed = as_reviewer.get(url).json()["approvals"]
            assert [a["status"] for a in listed if a["name"] == "e2e-player"] == [status]
            pressed = page.eval_on_selector(
                ".notes-approval button[aria-pressed='true']", "(b) => b.textContent"
            )
            assert pressed == button
        assert page.inner_text(".notes-mine") == "You: needs changes"
        _no_violations(page)
    finally:
        page.close()

    page = _open(browser, edge, master, editor_token)
    try:
        page.wait_for_selector(item)
        assert "e2e-player (reviewer): needs changes" in page.inner_text(".notes-everyone")
        page.click(f"{item} .note-resolve")
        page.wait_for_selector(f"{item}.resolved")
        resolved = _notes(as_reviewer, master)[text]
        assert (resolved["resolved"], resolved["resolved_by"]) == (True, "e2e-notes-editor")
        assert page.locator(f"#scrub .note-marker.resolved[data-note-id='{note_id}']").count() == 1
        _no_violations(page)
    finally:
        page.close()


def test_own_notes_are_edited_and_deleted_on_the_page_and_exports_download(
    master: str, browser: Any, edge: Service, reviewer_token: str, editor_token: str,
    as_reviewer: httpx.Client,
) -> None:  # fmt: skip
    """A reviewer edits and deletes their own note and reply on the page (the API's PATCH and
    DELETE); another's note offers neither (and the API would refuse it: tests/api). The
    export links save exactly what the API's export routes answer, as files of their names."""
    mine, theirs = (f"{what} {secrets.token_hex(3)}" for what in ("Grade warmer", "Editor's cut"))
    made = as_reviewer.post(f"/api/masters/{master}/notes", json={"frame_in": 12, "text": mine})
    assert made.status_code == 201, made.text
    note_id = made.json()["note_id"]
    editor = {"Authorization": f"Bearer {editor_token}"}
    other = httpx.post(
        f"{edge.url}/api/masters/{master}/notes", json={"frame_in": 13, "text": theirs},
        headers=editor,
    )  # fmt: skip
    assert other.status_code == 201, other.text
    reply = as_reviewer.post(
        f"/api/masters/{master}/notes/{other.json()['note_id']}/replies", json={"text": "ok"}
    )
    assert reply.status_code == 201, reply.text
    item = f"#notes li.note[data-note-id='{note_id}']"
    their_item = f"#notes li.note[data-note-id='{other.json()['note_id']}']"

    page = _open(browser, edge, master, reviewer_token)
    try:
        page.wait_for_selector(their_item)
        assert page.locator(f"{their_item} > .note-actions .note-edit").count() == 0
        assert page.locator(f"{their_item} > .note-actions .note-delete").count() == 0
        # Edited: the text typed (space and K are text there, never the player's), saved by
        # the API.
        page.click(f"{item} .note-edit")
        page.press(f"{item} .note-editor textarea", "End")
        page.keyboard.type(", and keep the skin")
        assert page.evaluate("() => document.querySelector('video').paused")
        page.click(f"{item} .note-editor button:text-is('Save')")
        page.wait_for_selector(f"{item} .note-text:has-text('and keep the skin')")
        assert _notes(as_reviewer, master)[f"{mine}, and keep the skin"]["note_id"] == note_id

        # The exports, downloaded from the page, are the API's answers byte for byte.
        for kind, name in [("csv", "CSV"), ("edl", "EDL (CMX3600)"), ("fcpxml", "FCPXML")]:
            with page.expect_download() as download:
                page.click(f".notes-exports button:text-is('{name}')")
            saved = Path(download.value.path()).read_bytes()
            assert download.value.suggested_filename == f"{master[:12]}-notes.{kind}"
            served = as_reviewer.get(f"/api/masters/{master}/notes.{kind}")
            assert served.status_code == 200 and saved == served.content, kind
            assert "and keep the skin" in saved.decode(), kind
            if kind == "csv":
                assert TIMING.label_at(12) in saved.decode()

        # Deleted: the reply first (a second press confirms), then the note.
        reply_line = f"{their_item} .note-replies li[data-note-id='{reply.json()['note_id']}']"
        page.click(f"{reply_line} .note-delete")
        assert page.locator(f"{their_item} .note-replies li").count() == 1  # not yet
        page.click(f"{reply_line} .note-delete")
        page.wait_for_selector(reply_line, state="detached")
        assert _notes(as_reviewer, master)[theirs]["replies"] == []
        page.click(f"{item} .note-delete")
        page.click(f"{item} .note-delete")
        page.wait_for_selector(item, state="detached")
        assert f"{mine}, and keep the skin" not in _notes(as_reviewer, master)
        assert page.locator(f"#scrub .note-marker[data-note-id='{note_id}']").count() == 0
        assert as_reviewer.patch(
            f"/api/masters/{master}/notes/{note_id}", json={"text": "x"}
        ).status_code == 404  # fmt: skip
        _no_violations(page)
    finally:
        page.close()
