"""README screenshots of what ops and reviewers see, taken from a real stack in headless
Chromium (never by hand): `uv run python scripts/screenshots.py` → docs/screenshots/*.png.

It runs `dailies demo --keep` on free ports (a generated master through upload, promotion and
the preview), then photographs the Prefect UI (deployments, the preview run with its logs,
the run form, the run's artifacts with its first-rendition link, a named audit run) and the
review page: while it plays, and paused on a frame with its source
timecode, the rendition picker and two documents an editor attached (review-page-controls.png).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


def start_demo(home: Path) -> tuple[subprocess.Popen[str], str, str]:
    """`dailies demo --keep`; returns it with the player URL and the preview run's UI URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAILIES_", "PREFECT_"))}
    env.update({"DAILIES_HOME": str(home), "PREFECT_UI_ENABLED": "true", "COLUMNS": "200"})
    dailies = str(Path(sys.executable).parent / "dailies")
    demo = subprocess.Popen(
        [dailies, "demo", "--keep", "--sample-seconds", "8", "--edge-port", "0",
         "--api-port", "0", "--prefect-port", "0", "--no-gpu"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    said, player, run = "", "", ""
    assert demo.stdout is not None
    for line in demo.stdout:
        said += line
        print(line, end="")
        player = player or _find(r"(http://\S+/watch/\S+#token=\S+)", line)
        run = run or _find(r"Prefect UI\s+(http://\S+/runs/flow-run/\S+)", line)
        if "--keep:" in line:
            break
    if not (player and run):
        demo.kill()
        raise SystemExit(f"the demo did not come up:\n{said}")
    return demo, player, run


def _find(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    return found.group(1) if found else ""


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="dailies-screenshots-"))
    demo, player, run = start_demo(home)
    ui = run.split("/runs/")[0]
    try:
        wait_until_done(ui, run)
        attach_documents(home, player)
        deployment = httpx.get(f"{ui}/api/deployments/name/build-preview/preview-cpu").json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            shoot(page, f"{ui}/deployments", "preview-cpu", "prefect-deployments.png")
            shoot(page, run, "x real time", "prefect-preview-run-logs.png")
            # The run's artifacts: the player link, the progress, the first rendition's link.
            # The run page's tabs are plain buttons (no ARIA tab role).
            page.goto(run)
            page.get_by_text("Artifacts", exact=True).first.click()
            shoot(page, None, "first-rendition-", "prefect-preview-run-artifacts.png")
            shoot(page, audit_run(home), "audit-", "prefect-audit-run.png")
            shoot(page, f"{ui}/deployments/deployment/{deployment['id']}/run", "sha256",
                  "prefect-run-form.png")  # fmt: skip
            page.goto(player)
            page.wait_for_function(
                "() => window.dailiesPlayer && window.dailiesPlayer.phase === 'playing'",
                timeout=60_000,
            )
            time.sleep(2)  # a few frames in, past the first one
            page.screenshot(path=str(OUT / "review-page.png"))
            shoot_controls(page)
            browser.close()
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(60)
    print(f"screenshots in {OUT}")


def audit_run(home: Path) -> str:
    """`dailies audit` on the demo's stack (through the deployment); its run's UI URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAILIES_", "PREFECT_"))}
    env["DAILIES_HOME"] = str(home)
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dailies"), "audit"], env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    url = _find(r"\(run audit-\S+: (http\S+)\)", done.stdout)
    if not url:
        raise SystemExit(f"the audit did not run: {done.stdout}{done.stderr}")
    print(f"  audit: {done.stdout.strip().splitlines()[0]}")
    return url


def attach_documents(home: Path, player: str) -> None:
    """An asset for the demo's master and two documents on it, attached as an editor does:
    presigned PUT, then complete (the API records the sha256)."""
    from dailies.clients import session_scope
    from dailies.db import api_keys, masters
    from dailies.promotion_rules import AssetLink
    from dailies.settings import Settings
    from ops.up import running_stack

    state = running_stack(home)
    assert state is not None, "the demo's stack is not running"
    settings = Settings(home=home, database_url=state["env"]["DAILIES_DATABASE_URL"])
    sha = player.split("/watch/")[1].split("#")[0]
    with session_scope(settings) as session:  # the editor's asset: only its owner attaches
        key, token = api_keys.create_key(session, "editor", "screenshots")
        link = AssetLink("A001_C003_SHOT_010", {"scene": "12", "take": "3"}, key.id, True)
        masters.link_asset(session, link, sha)
    edge = player.split("/watch/")[0]
    files = {
        "call-sheet-day-12.pdf": ("application/pdf", b"%PDF-1.4\n% call sheet\n" * 40),
        "show-lut-v3.cube": ("application/octet-stream", b"LUT_3D_SIZE 2\n" + b"0 0 0\n" * 8),
    }
    with httpx.Client(base_url=edge, headers={"Authorization": f"Bearer {token}"}) as api:
        for name, (kind, data) in files.items():
            body = {"filename": name, "size_bytes": len(data), "content_type": kind}
            upload = api.post("/api/assets/A001_C003_SHOT_010/documents", json=body).json()
            httpx.put(upload["url"], content=data, headers=upload["headers"]).raise_for_status()
            api.post(f"/api/documents/{upload['document_id']}/complete").raise_for_status()


def shoot_controls(page: Any) -> None:
    """Paused on a frame: source timecode, the picker open on a rung, documents listed, a
    storyboard thumbnail under the pointer."""
    page.reload()
    page.wait_for_function(
        "() => window.dailiesPlayer.playingAt && window.dailiesPlayer.timing", timeout=60_000
    )
    page.locator("#documents li").first.wait_for(timeout=15_000)
    page.keyboard.press("k")
    page.evaluate("() => window.dailiesPlayer.controls.seekFrame(100)")
    page.wait_for_function("() => !document.querySelector('video').seeking")
    box = page.locator("#scrub").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    time.sleep(1)
    page.screenshot(path=str(OUT / "review-page-controls.png"))
    page.keyboard.press("?")
    time.sleep(0.5)
    page.screenshot(path=str(OUT / "review-page-keyboard.png"))
    print("  review-page-controls.png, review-page-keyboard.png")


def wait_until_done(ui: str, run_url: str, timeout_s: float = 300) -> None:
    """The demo returns once the first rendition plays; the ladder run finishes later."""
    run_id = run_url.rstrip("/").rsplit("/", 1)[-1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = httpx.get(f"{ui}/api/flow_runs/{run_id}").json().get("state") or {}
        if state.get("type") in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}:
            print(f"  preview run {state.get('type')}")
            return
        time.sleep(1)
    raise SystemExit(f"the preview run {run_id} did not finish within {timeout_s}s")


def shoot(page: Any, url: str | None, wait_for_text: str, name: str) -> None:
    if url is not None:
        page.goto(url)
    try:
        found = page.get_by_text(wait_for_text).first
        found.wait_for(state="attached", timeout=30_000)
        found.scroll_into_view_if_needed()
    finally:
        time.sleep(1)  # let the SPA finish painting
        page.screenshot(path=str(OUT / name))
        print(f"  {name}")


if __name__ == "__main__":
    main()
