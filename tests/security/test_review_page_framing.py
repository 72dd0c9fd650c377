"""The review page cannot be framed and runs nothing but the edge's own files. Issue 25: it
had no Content-Security-Policy and no frame protection, so any site could frame a reviewer's
page (which holds their token) and steer its clicks, and nothing stood between an injected
script and the page. Chromium plays under the policy: tests/e2e/test_review_page.py."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from ops.edge import PLAYER_DIR
from ops.processes import Service
from tests.security.conftest import raw_request

# The policy, directive by directive: the review page's needs and nothing else (why each is
# there: edge/nginx.conf.template).
POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "media-src": "'self' blob:",
    "connect-src": "'self'",
    "worker-src": "blob:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}

# Every way to the page or a file of it, escaped spellings included: a framing site may
# choose the URL, so none of them may come without the headers.
PAGE_PATHS = [
    "/watch/{sha}",
    "/watch/{sha}/",
    "/%77atch/{sha}",
    "/watch/{sha}?grant=x",
    "/player/",
    "/player/index.html",
    "/%70layer/index.html",
    "/player/player.js",
    "/player/player.css",
    "/player/vendor/hls.min.js",
]


def _policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


@pytest.mark.parametrize("template", PAGE_PATHS)
def test_the_review_page_cannot_be_framed_and_runs_only_the_edges_files(
    edge: Service, sha: str, template: str
) -> None:
    status, headers, _ = raw_request(edge.url, "GET", template.format(sha=sha))

    assert status == 200
    assert _policy(headers["content-security-policy"]) == POLICY
    assert headers["x-frame-options"] == "DENY"


class _Inline(HTMLParser):
    """What in the page the policy would refuse: inline scripts and styles, style and
    event-handler attributes, javascript: URLs, files from anywhere but /player/."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []
        self.files: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "style" or (tag == "script" and not named.get("src")):
            self.refused.append(f"inline <{tag}>")
        for name, value in attrs:
            if name == "style" or name.startswith("on") or "javascript:" in (value or ""):
                self.refused.append(f"<{tag} {name}=…>")
        if tag == "script" or (tag == "link" and named.get("rel") == "stylesheet"):
            self.files.append(named.get("src") or named.get("href") or "")


def test_the_page_needs_nothing_its_policy_refuses() -> None:
    page = _Inline()
    page.feed((PLAYER_DIR / "index.html").read_text())

    assert page.refused == []
    assert page.files and all(f.startswith("/player/") for f in page.files), page.files
    scripts = sorted(PLAYER_DIR.glob("*.js"))  # every file of ours the page loads
    assert {"player.js", "controls.js", "notes.js"} <= {path.name for path in scripts}
    for path in scripts:
        name, code = path.name, path.read_text()
        for refused in ("eval(", "new Function", "innerHTML", 'setAttribute("style"'):
            assert refused not in code, (name, refused)
