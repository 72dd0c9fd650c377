"""The catalog: a promoted master's row, and the catalog a keyset page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from api.auth import Editor
from api.deps import DbDep
from api.schemas import AUTH_ERRORS, MasterOut, MastersPageOut, error_responses
from dailies.db import masters, previews
from dailies.db.previews import parse_status
from dailies.errors import UnknownMaster
from dailies.hashing import normalize_sha256

router = APIRouter(prefix="/api/masters", tags=["masters"])


@router.get("", response_model=MastersPageOut, responses=error_responses(*AUTH_ERRORS))
def list_masters(
    _: Editor,
    db: DbDep,
    after: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> MastersPageOut:
    """The catalog in sha256 order, a keyset page at a time: `next_after` is the `after`
    of the next page (null on the last)."""
    rows = masters.masters_page(db, after, limit)
    return MastersPageOut(
        masters=[row.as_dict() for row in rows],
        next_after=rows[-1].sha256 if len(rows) == limit else None,
    )


@router.get("/{sha256}", response_model=MasterOut, responses=error_responses(404, *AUTH_ERRORS))
def get_master(sha256: Annotated[str, Path(max_length=200)], _: Editor, db: DbDep) -> BaseModel:
    """The masters row, the assets pointing at it and its preview's status."""
    sha = normalize_sha256(sha256)
    master = masters.get_master(db, sha)
    if master is None:
        raise UnknownMaster(f"no master with sha256 {sha}")
    preview = previews.get_preview(db, sha)
    return MasterOut(
        **master.as_dict(),
        assets=masters.assets_of(db, sha),
        preview_status=parse_status(preview.status if preview else None),
    )
