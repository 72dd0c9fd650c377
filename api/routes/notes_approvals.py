"""Each reviewer's approval of a master (approved / needs changes / none). A change is the
Prefect event `dailies.approval.changed`, which automations act on."""

from __future__ import annotations

from fastapi import APIRouter
from prefect.events import emit_event

from api.auth import Reviewer
from api.deps import DbDep, SettingsDep
from api.json_body import StrictJsonRoute
from api.note_schemas import (
    ApprovalBody,
    ApprovalChangedOut,
    ApprovalListOut,
    ApprovalOut,
    CallerOut,
)
from api.routes.notes import Sha
from api.schemas import AUTH_ERRORS, error_responses
from dailies import note_rules
from dailies.clients import session_scope
from dailies.db import notes
from dailies.hashing import normalize_sha256

router = APIRouter(prefix="/api/masters", tags=["notes"], route_class=StrictJsonRoute)


@router.get(
    "/{sha256}/approval",
    response_model=ApprovalListOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def list_approvals(sha256: Sha, reviewer: Reviewer, db: DbDep) -> ApprovalListOut:
    """Every reviewer's status on this master, and who is asking (`caller`)."""
    sha = normalize_sha256(sha256)
    notes.master_exists(db, sha)
    return ApprovalListOut(
        approvals=[
            ApprovalOut(
                key_id=row.key_id,
                name=row.name,
                role=row.role,
                status=note_rules.ApprovalStatus(row.status),
                updated_at=row.updated_at,
            )  # fmt: skip
            for row in notes.approvals_of(db, sha)
        ],
        caller=CallerOut(key_id=reviewer.key_id, name=reviewer.name, role=reviewer.role),
    )


@router.put(
    "/{sha256}/approval",
    response_model=ApprovalChangedOut,
    responses=error_responses(404, *AUTH_ERRORS),
)
def set_approval(
    sha256: Sha, body: ApprovalBody, reviewer: Reviewer, settings: SettingsDep
) -> ApprovalChangedOut:
    """The caller's own status on this master: approved, needs_changes or none. A change
    emits the Prefect event `dailies.approval.changed` (resource `dailies.master.{sha256}`)."""
    sha = normalize_sha256(sha256)
    with session_scope(settings) as db:
        notes.master_exists(db, sha)
        previous = notes.set_approval(
            db, sha, reviewer.key_id, reviewer.name, reviewer.role, body.status.value
        )
        row = notes.approvals_of(db, sha, key_id=reviewer.key_id)[0]
        answer = ApprovalChangedOut(
            key_id=row.key_id, name=row.name, role=row.role, status=body.status,
            updated_at=row.updated_at, previous=note_rules.ApprovalStatus(previous),
            changed=previous != body.status.value,
        )  # fmt: skip
    if answer.changed:  # once committed: an automation may read the approvals back
        emit_event(
            **note_rules.approval_event(
                sha, reviewer.key_id, reviewer.name, previous, body.status.value
            )
        )
    return answer
