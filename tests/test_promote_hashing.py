"""Promotion's hash as parallel ranged GETs (dailies/storage/ranged.py) on real stores: the
right sha256 around part boundaries, every GET a range under If-Match of the HEAD's ETag, an
object replaced mid-hash failing the run with one line and nothing promoted, and the window:
exactly parts_in_flight GETs at once and that many buffers, never more."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select

from dailies.db.models import PromotionAttempt
from dailies.errors import StagingObjectChanged
from dailies.promotion_rules import validate_promotion_request
from dailies.settings import get_settings
from dailies.storage.ranged import iter_object_parts
from flows.promote import promote_master
from tasks.promotion import hash_staging_object
from tests.prefect_runs import task_retries
from tests.staging import random_bytes, stage_bytes
from tests.store_proxy import store_behind_proxy
from tests.stores import both_stores

PART = 64 * 1024  # the smallest part the settings allow
IN_FLIGHT = 3


@pytest.fixture
def small_parts(store: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DAILIES_HASH_PART_BYTES", str(PART))
    monkeypatch.setenv("DAILIES_HASH_PARTS_IN_FLIGHT", str(IN_FLIGHT))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _gets(seen: list[tuple[str, str, dict[str, str]]], key: str) -> list[dict[str, str]]:
    return [headers for method, path, headers in seen if method == "GET" and key in path]


@both_stores
@pytest.mark.parametrize(
    "size",
    [0, 1, PART - 1, PART, IN_FLIGHT * PART, IN_FLIGHT * PART + 1, 2 * IN_FLIGHT * PART + 5],
)
def test_ranged_hash_is_the_sha256_of_the_object(small_parts, s3, size: int) -> None:  # type: ignore[no-untyped-def]
    settings = small_parts
    key, sha = stage_bytes(s3, settings, random_bytes(size))
    etag = s3.head_object(Bucket=settings.staging_bucket, Key=key)["ETag"]

    with store_behind_proxy(settings) as (_, recorded):
        staged = hash_staging_object.fn(validate_promotion_request(key, sha))

    assert (staged.sha256, staged.size_bytes, staged.etag) == (sha, size, etag)
    gets = _gets(recorded.seen, key)
    # one GET per part, each a range of this version, together the whole object once
    assert len(gets) == -(-size // PART)
    assert all(g["if-match"] == etag for g in gets)
    ranges = sorted(tuple(map(int, g["range"].removeprefix("bytes=").split("-"))) for g in gets)
    assert ranges == [(i, min(i + PART, size) - 1) for i in range(0, size, PART)]


def _attempts(db_session: Any, sha: str) -> list[PromotionAttempt]:
    db_session.expire_all()
    query = select(PromotionAttempt).where(PromotionAttempt.sha256 == sha)
    return list(db_session.scalars(query))


@both_stores
def test_object_replaced_mid_hash_fails_the_run_and_promotes_nothing(
    small_parts, s3, db_session
) -> None:  # type: ignore[no-untyped-def]
    """The GET of the third part is held at the store while the staged object is replaced
    (same size); released, it reaches the store with If-Match of the old ETag."""
    settings = small_parts
    size = 3 * IN_FLIGHT * PART
    key, sha = stage_bytes(s3, settings, random_bytes(size))
    third = f"bytes={2 * PART}-"

    def third_part(method: str, path: str, headers: dict[str, str]) -> bool:
        ranged = {k.lower(): v for k, v in headers.items()}.get("range", "")
        return method == "GET" and key in path and ranged.startswith(third)

    with store_behind_proxy(settings) as (proxy, _), ThreadPoolExecutor(1) as pool:
        held = proxy.hold(third_part)
        run = pool.submit(promote_master, key, sha, return_state=True)
        assert held.wait(120), "the hash never asked for the third part"
        s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=random_bytes(size))
        held.release()
        state = run.result(120)

    assert state.is_failed()
    with pytest.raises(StagingObjectChanged, match="changed while it was being hashed"):
        state.result()
    # one actionable line, on the run and on the attempt row
    assert "\n" not in state.message and "promote it again" in state.message
    listed = s3.list_object_versions(Bucket=settings.masters_bucket, Prefix=sha)
    assert listed.get("Versions", []) == []
    attempts = _attempts(db_session, sha)
    assert [a.outcome for a in attempts] == ["failed"]
    assert "changed while it was being hashed" in (attempts[0].reason or "")
    # the content changed: no retry could hash the version that was asked for
    retried = task_retries(state.state_details.flow_run_id, settled="hash_staging_object")
    assert retried["hash_staging_object"] == 0


@both_stores
def test_at_most_parts_in_flight_gets_and_buffers(small_parts, s3) -> None:  # type: ignore[no-untyped-def]
    """The first part's GET is held: the reader may start the window's other GETs but no
    more, since the first part cannot be hashed; released, it reuses that many buffers."""
    settings = small_parts
    size = 4 * IN_FLIGHT * PART + 17
    data = random_bytes(size)
    key, sha = stage_bytes(s3, settings, data)
    etag = s3.head_object(Bucket=settings.staging_bucket, Key=key)["ETag"]

    def first_part(method: str, path: str, headers: dict[str, str]) -> bool:
        ranged = {k.lower(): v for k, v in headers.items()}.get("range", "")
        return method == "GET" and key in path and ranged.startswith("bytes=0-")

    buffers: dict[int, Any] = {}
    digest = hashlib.sha256()
    with store_behind_proxy(settings) as (proxy, recorded), ThreadPoolExecutor(1) as pool:
        held = proxy.hold(first_part)

        def read() -> None:
            from dailies.clients import s3_client

            # made here, after the proxy: its requests go through it
            parts = iter_object_parts(
                s3_client(), settings.staging_bucket, key, size, etag, PART, IN_FLIGHT
            )
            for part in parts:
                buffers[id(part.obj)] = part.obj  # kept alive: ids stay distinct
                digest.update(part)

        done = pool.submit(read)
        assert held.wait(60) or done.result(), "the reader never asked for the first part"
        deadline = time.monotonic() + 10
        while len(_gets(recorded.seen, key)) < IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # time for a GET beyond the window, if the reader would send one
        in_flight = len(_gets(recorded.seen, key))
        held.release()
        done.result(60)

    assert in_flight == IN_FLIGHT
    assert digest.hexdigest() == sha
    assert len(buffers) == IN_FLIGHT
    assert all(len(b) == PART for b in buffers.values())
    assert threading.active_count() < 50  # the pool's threads ended with the read


@both_stores
def test_a_ranged_get_under_a_stale_if_match_is_refused_by_the_store(settings, s3) -> None:  # type: ignore[no-untyped-def]
    """The store's own half of the guarantee (ranged.py checks the answer's ETag as well):
    moto and RGW both answer 412 PreconditionFailed, as AWS documents."""
    from botocore.exceptions import ClientError

    from dailies.storage.objects import error_code

    key, _ = stage_bytes(s3, settings, random_bytes(4096))
    stale = s3.head_object(Bucket=settings.staging_bucket, Key=key)["ETag"]
    s3.put_object(Bucket=settings.staging_bucket, Key=key, Body=random_bytes(4096))

    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=settings.staging_bucket, Key=key, Range="bytes=0-99", IfMatch=stale)
    assert error_code(refused.value) in {"PreconditionFailed", "412"}
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


@both_stores
@pytest.mark.parametrize("size", [0, 1, PART + 1, 3 * PART])
def test_one_part_in_flight_is_one_get_of_the_whole_object(
    small_parts, s3, monkeypatch, size: int
) -> None:  # type: ignore[no-untyped-def]
    """What `dailies up` on moto runs: one GET under If-Match, read a part at a time."""
    monkeypatch.setenv("DAILIES_HASH_PARTS_IN_FLIGHT", "1")
    get_settings.cache_clear()
    settings = get_settings()
    key, sha = stage_bytes(s3, settings, random_bytes(size))
    etag = s3.head_object(Bucket=settings.staging_bucket, Key=key)["ETag"]

    with store_behind_proxy(settings) as (_, recorded):
        staged = hash_staging_object.fn(validate_promotion_request(key, sha))

    assert (staged.sha256, staged.size_bytes) == (sha, size)
    gets = _gets(recorded.seen, key)
    assert len(gets) == (1 if size else 0)
    assert all(g["if-match"] == etag and "range" not in g for g in gets)


def test_dailies_up_on_moto_hashes_with_one_get_and_the_operator_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ops.environment import embedded_environment

    ports = {"edge": 18080, "api": 18000, "prefect": 14200, "s3": 15000}
    moto, _ = embedded_environment(tmp_path, ports, {})
    rgw, _ = embedded_environment(tmp_path, ports, {}, store="rgw")
    mine, _ = embedded_environment(tmp_path, ports, {"DAILIES_HASH_PARTS_IN_FLIGHT": "4"})
    elsewhere, _ = embedded_environment(tmp_path, ports, {"AWS_ENDPOINT_URL_S3": "https://s3"})

    assert moto["DAILIES_HASH_PARTS_IN_FLIGHT"] == "1"
    assert mine["DAILIES_HASH_PARTS_IN_FLIGHT"] == "4"
    assert "DAILIES_HASH_PARTS_IN_FLIGHT" not in rgw
    assert "DAILIES_HASH_PARTS_IN_FLIGHT" not in elsewhere
