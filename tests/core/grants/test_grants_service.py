"""Issuing, listing and revoking grants through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from grants_fixtures import *  # noqa: F403 — the fixtures
from grants_helpers import OTHER, PURPOSE, RESOURCE_KEY, ROLES, add_grant, resource
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.grants import service
from xingcheng.core.grants.schemas import GrantCreate
from xingcheng.core.schemas import PageParams

STEWARD = ROLES["data_steward"]
assert STEWARD is not None
PAGE = PageParams(limit=50, offset=0)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[Session]:
    yield request.getfixturevalue("session" if request.param == "sqlite" else "pg_session")


def grant_data(**changes: object) -> GrantCreate:
    data: dict[str, object] = {"resource_key": RESOURCE_KEY, "grantee_department_code": OTHER, "grade_ceiling": "L3",
                               "purpose": PURPOSE, "expires_at": utcnow() + timedelta(days=90), "reference": "share request 7"}
    return GrantCreate.model_validate(data | changes)


def test_issue_a_grant_then_read_with_it(db: Session) -> None:
    grant = service.create_grant(db, data=grant_data(fields=["id_number", "phone"]), granted_by=STEWARD)
    assert (grant.status, grant.granted_by, grant.granted_by_department_code) == ("active", "steward", "dsj")
    assert grant.fields == ["id_number", "phone"]
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "grant.create")).one()
    assert (entry.actor_name, entry.subject, entry.purpose) == ("steward", RESOURCE_KEY, PURPOSE)
    assert entry.details is not None and entry.details["grant_id"] == grant.id
    decision = service.can_read(db, ROLES["staff_other"], resource("L4"), PURPOSE)
    assert decision.allowed and decision.grant_ids == (grant.id,)
    assert decision.fields["phone"].action == "withheld"  # L4, above the L3 ceiling


def test_nobody_grants_their_own_department(db: Session) -> None:
    with pytest.raises(Forbidden, match="separation of duties"):
        service.create_grant(db, data=grant_data(grantee_department_code="dsj"), granted_by=STEWARD)


def test_only_staff_issue_grants(db: Session) -> None:
    citizen = ROLES["citizen"]
    assert citizen is not None
    with pytest.raises(Forbidden, match="only staff can issue data grants"):
        service.create_grant(db, data=grant_data(), granted_by=citizen)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"grantee_department_code": "nope"}, Invalid, "no department with code 'nope'"),
        ({"expires_at": utcnow() - timedelta(days=1)}, Invalid, "expires_at is in the past"),
    ],
)
def test_refused_grants(db: Session, changes: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        service.create_grant(db, data=grant_data(**changes), granted_by=STEWARD)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grade_ceiling": "L1"}, "grade_ceiling"),
        ({"fields": []}, "omit the list to grant every field"),
        ({"fields": ["a", "a"]}, "must not repeat"),
        ({"purpose": "   "}, "must not be blank"),
        ({"valid_from": utcnow() + timedelta(days=100)}, "expires_at must be after valid_from"),
        ({"expires_at": "2030-01-01T00:00:00"}, "timezone"),
    ],
)
def test_schema_refuses(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        grant_data(**changes)


def test_one_live_grant_per_department_resource_and_purpose(db: Session) -> None:
    first = service.create_grant(db, data=grant_data(), granted_by=STEWARD)
    with pytest.raises(Conflict, match=f"already holds grant #{first.id}"):
        service.create_grant(db, data=grant_data(grade_ceiling="L4"), granted_by=STEWARD)
    service.create_grant(db, data=grant_data(purpose="statistics"), granted_by=STEWARD)  # another purpose: fine
    service.revoke_grant(db, grant_id=first.id, revoked_by=STEWARD, reason="superseded")
    assert service.create_grant(db, data=grant_data(grade_ceiling="L4"), granted_by=STEWARD).id != first.id


def test_revoke_stops_reads_and_is_audited(db: Session) -> None:
    grant = service.create_grant(db, data=grant_data(), granted_by=STEWARD)
    assert service.can_read(db, ROLES["staff_other"], resource("L3"), PURPOSE).allowed
    revoked = service.revoke_grant(db, grant_id=grant.id, revoked_by=STEWARD, reason="loan closed")
    assert (revoked.status, revoked.revoked_by, revoked.revoke_reason) == ("revoked", "steward", "loan closed")
    decision = service.can_read(db, ROLES["staff_other"], resource("L3"), PURPOSE)
    assert not decision.allowed and f"#{grant.id} was revoked at" in decision.reason
    with pytest.raises(Conflict, match=f"grant #{grant.id} was already revoked"):
        service.revoke_grant(db, grant_id=grant.id, revoked_by=STEWARD, reason="again")
    with pytest.raises(NotFound, match="no data grant 999999"):
        service.revoke_grant(db, grant_id=999999, revoked_by=STEWARD, reason="x")
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "grant.revoke")).one()
    assert entry.details == {"grant_id": grant.id, "grantee": OTHER, "reason": "loan closed"}


def test_listing_by_state_and_who_sees_what(db: Session) -> None:
    states = ["active", "expired", "revoked", "pending"]
    made = {state: add_grant(db, state=state, purpose=f"p-{state}") for state in states}  # type: ignore[arg-type]
    elsewhere = add_grant(db, department="yjj")
    for state in states:
        items, total = service.list_grants(db, viewer=STEWARD, page=PAGE, state=state,  # type: ignore[arg-type]
                                           resource_key=RESOURCE_KEY, grantee_department_code=OTHER)
        assert ([g.id for g in items], total) == ([made[state].id], 1)  # type: ignore[union-attr]
    every, _ = service.list_grants(db, viewer=STEWARD, page=PAGE)
    assert {g.id for g in every} >= {g.id for g in made.values() if g} | {elsewhere.id}  # type: ignore[union-attr]
    clerk = ROLES["staff_other"]
    assert clerk is not None
    own, _ = service.list_grants(db, viewer=clerk, page=PAGE)
    assert {g.grantee_department_code for g in own} == {OTHER}
    assert service.get_or_raise(db, grant_id=made["active"].id, viewer=clerk).id == made["active"].id  # type: ignore[union-attr]
    with pytest.raises(NotFound, match="that you can see"):
        service.get_or_raise(db, grant_id=elsewhere.id, viewer=clerk)  # type: ignore[union-attr]
    with pytest.raises(Forbidden, match="only staff can see data grants"):
        service.list_grants(db, viewer=Principal(kind="citizen", name="x", roles=frozenset({"citizen"})), page=PAGE)
