"""Pure preview-grant rules: the grant's exact form, what `verify_grant` accepts, the cookie.
The edge's own check (edge/njs/dailies.js) is proven against these through nginx in
tests/security; here each rule is pinned so a mutant of it fails in milliseconds."""

from __future__ import annotations

import pytest

from dailies.grant_rules import COOKIE_NAME, Grant, grant_cookie, issue_grant, verify_grant

SECRET = b"grant-key"
SHA = "a" * 64
# HMAC-SHA256("grant-key", "{SHA}:1060"), computed once outside dailies: pins the signed text.
MAC_1060 = "87fa9205f98e40b5638829cc35d0f3b61aedd91ffe253495bd7f497d10a2b655"


def test_a_grant_is_expiry_dot_mac_of_sha_and_expiry() -> None:
    # The fraction of `now` is dropped before the ttl is added.
    assert issue_grant(SECRET, SHA, now=1000.9, ttl_s=60) == Grant(f"1060.{MAC_1060}", 1060)


def test_a_grant_verifies_until_it_expires_and_not_at_its_expiry() -> None:
    value = issue_grant(SECRET, SHA, now=1000, ttl_s=60).value
    assert verify_grant(SECRET, SHA, value, now=1000)
    assert verify_grant(SECRET, SHA, value, now=1059.999)
    assert not verify_grant(SECRET, SHA, value, now=1060)
    assert not verify_grant(SECRET, SHA, value, now=1061)


def test_a_grant_is_for_one_sha_under_one_secret() -> None:
    value = issue_grant(SECRET, SHA, now=1000, ttl_s=60).value
    assert not verify_grant(SECRET, "b" * 64, value, now=1000)
    assert not verify_grant(b"other-key", SHA, value, now=1000)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        f"1070.{MAC_1060}",  # a later expiry under the old mac
        f"1060.{MAC_1060.upper()}",  # the mac is lower-case hex, as the edge compares it
        f"1060.{MAC_1060}0",
        f"1060.{MAC_1060[:-1]}",
        f" 1060.{MAC_1060}",
        f"1060{MAC_1060}",
        f"1060:{MAC_1060}",
        f"0000000001060.{MAC_1060}",  # 13 digits: longer than any Unix time the edge reads
    ],
)
def test_malformed_or_forged_grants_are_refused(value: str | None) -> None:
    assert not verify_grant(SECRET, SHA, value, now=1000)


def test_twelve_digit_expiries_are_read() -> None:
    value = f"000000001060.{MAC_1060}"  # leading zeros: int() reads the same expiry
    assert verify_grant(SECRET, SHA, value, now=1000)


@pytest.mark.parametrize(
    ("secure", "tail"),
    [(False, "HttpOnly; SameSite=Lax"), (True, "HttpOnly; SameSite=Lax; Secure")],
)
def test_the_cookie_is_scoped_to_the_master_and_hidden_from_scripts(
    secure: bool, tail: str
) -> None:
    grant = Grant(f"1060.{MAC_1060}", 1060)
    assert COOKIE_NAME == "dailies_grant"
    assert grant_cookie(grant, SHA, 60, secure) == (
        f"dailies_grant=1060.{MAC_1060}; Path=/previews/{SHA}/; Max-Age=60; {tail}"
    )
