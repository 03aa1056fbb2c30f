"""Grants: issue, list and revoke them; ``can_read``, the audited decision every data read passes.

The rules live in ``policy``. Callers authorize issuing: the API requires ``grants:manage``; the
sharing exchange issues grants when an owning department approves a request. The service adds
what holds for every caller: only staff issue grants, and never to their own department.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit.service import record
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.grants.models import DataGrant
from xingcheng.core.grants.policy import AccessDecision, GradePolicy, GrantState, ResourceDescriptor, decide
from xingcheng.core.grants.schemas import GrantCreate
from xingcheng.core.identity.service import get_department_by_code
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings

ANONYMOUS = Principal(kind="anonymous", name="anonymous")


def grade_policy() -> GradePolicy:
    """The grade rules' settings (``XC_GRANTS__...``)."""
    return get_settings().grants


def _state_filter(state: GrantState, now: datetime) -> ColumnElement[bool]:
    live = DataGrant.revoked_at.is_(None)
    return {
        "revoked": DataGrant.revoked_at.is_not(None),
        "pending": and_(live, DataGrant.valid_from > now),
        "expired": and_(live, DataGrant.expires_at <= now),
        "active": and_(live, DataGrant.valid_from <= now, DataGrant.expires_at > now),
    }[state]


def _visible(statement: Select[DataGrant], viewer: Principal) -> Select[DataGrant]:
    # Grant metadata holds no personal data: stewards and admins oversee all; staff see their own.
    if viewer.has("grants:read") or viewer.has("grants:manage"):
        return statement
    if viewer.is_staff and viewer.department_code:
        return statement.where(DataGrant.grantee_department_code == viewer.department_code)
    raise Forbidden("only staff can see data grants")


def get(session: Session, *, grant_id: int) -> DataGrant | None:
    return session.get(DataGrant, grant_id)


def get_or_raise(session: Session, *, grant_id: int, viewer: Principal | None = None) -> DataGrant:
    statement = select(DataGrant).where(DataGrant.id == grant_id)
    grant = session.scalar(_visible(statement, viewer) if viewer is not None else statement)
    if grant is None:
        raise NotFound(f"no data grant {grant_id}" + (" that you can see" if viewer is not None else ""))
    return grant


def list_grants(
    session: Session, *, viewer: Principal, page: PageParams, resource_key: str | None = None,
    grantee_department_code: str | None = None, state: GrantState | None = None, now: datetime | None = None,
) -> tuple[list[DataGrant], int]:
    statement = _visible(select(DataGrant), viewer)
    if resource_key is not None:
        statement = statement.where(DataGrant.resource_key == resource_key)
    if grantee_department_code is not None:
        statement = statement.where(DataGrant.grantee_department_code == grantee_department_code)
    if state is not None:
        statement = statement.where(_state_filter(state, now or utcnow()))
    return paginate(session, statement.order_by(DataGrant.id.desc()), page)


def grants_for(session: Session, *, resource_key: str, department_code: str) -> Sequence[DataGrant]:
    """Every grant of ``department_code`` on ``resource_key``, whatever its state (to explain denials)."""
    return session.scalars(
        select(DataGrant)
        .where(DataGrant.resource_key == resource_key, DataGrant.grantee_department_code == department_code)
        .order_by(DataGrant.id)
    ).all()


def create_grant(session: Session, *, data: GrantCreate, granted_by: Principal, now: datetime | None = None) -> DataGrant:
    now = now or utcnow()
    if not granted_by.is_staff:
        raise Forbidden("only staff can issue data grants")
    if granted_by.department_code == data.grantee_department_code:
        raise Forbidden(
            f"you belong to department {data.grantee_department_code!r} and cannot grant it access yourself "
            "(separation of duties): another steward or the owning department must issue it"
        )
    if get_department_by_code(session, code=data.grantee_department_code) is None:
        raise Invalid(f"no department with code {data.grantee_department_code!r}")
    valid_from = data.valid_from or now
    if data.expires_at <= now:
        raise Invalid("expires_at is in the past: the grant would never apply")
    if data.expires_at <= valid_from:
        raise Invalid("expires_at must be after valid_from")
    duplicate = session.scalar(
        select(DataGrant.id).where(
            DataGrant.resource_key == data.resource_key,
            DataGrant.grantee_department_code == data.grantee_department_code,
            DataGrant.purpose == data.purpose,
            DataGrant.revoked_at.is_(None),
            DataGrant.expires_at > now,
        ).limit(1)
    )
    if duplicate is not None:
        raise Conflict(
            f"department {data.grantee_department_code!r} already holds grant #{duplicate} on {data.resource_key!r} "
            f"for purpose {data.purpose!r}; revoke it first or let it expire"
        )
    grant = DataGrant(
        resource_key=data.resource_key, grantee_department_code=data.grantee_department_code, fields=data.fields,
        grade_ceiling=data.grade_ceiling, purpose=data.purpose, reference=data.reference, valid_from=valid_from,
        expires_at=data.expires_at, granted_by=granted_by.name, granted_by_department_code=granted_by.department_code,
    )
    session.add(grant)
    session.flush()
    record(session, actor=granted_by, action="grant.create", subject=grant.resource_key, purpose=grant.purpose,
           details={"grant_id": grant.id, "grantee": grant.grantee_department_code, "fields": grant.fields,
                    "grade_ceiling": grant.grade_ceiling, "valid_from": valid_from.isoformat(),
                    "expires_at": grant.expires_at.isoformat(), "reference": grant.reference})
    return grant


def revoke_grant(session: Session, *, grant_id: int, revoked_by: Principal, reason: str) -> DataGrant:
    grant = get_or_raise(session, grant_id=grant_id)
    if grant.revoked_at is not None:
        raise Conflict(f"grant #{grant.id} was already revoked at {grant.revoked_at:%Y-%m-%d %H:%M}Z by {grant.revoked_by}")
    grant.revoked_at, grant.revoked_by, grant.revoke_reason = utcnow(), revoked_by.name, reason
    session.flush()
    record(session, actor=revoked_by, action="grant.revoke", subject=grant.resource_key, purpose=grant.purpose,
           details={"grant_id": grant.id, "grantee": grant.grantee_department_code, "reason": reason})
    return grant


def can_read(
    session: Session, principal: Principal | None, resource: ResourceDescriptor, purpose: str, *,
    now: datetime | None = None, policy: GradePolicy | None = None,
) -> AccessDecision:
    """Decide whether ``principal`` may read ``resource`` for ``purpose``, field by field, and audit it.

    ``principal`` None is an anonymous caller. The decision is recorded as ``grant.decide``
    (result ``allowed``/``denied``) in the caller's transaction, whatever the outcome.
    """
    grants: Sequence[DataGrant] = ()
    department = principal.department_code if principal is not None and principal.is_staff else None
    if department and resource.grade in ("L3", "L4") and department != resource.owner_department_code:
        grants = grants_for(session, resource_key=resource.key, department_code=department)
    decision = decide(principal, resource, purpose, grants, now=now or utcnow(), policy=policy or grade_policy())
    record(session, actor=principal or ANONYMOUS, action="grant.decide", subject=resource.key, purpose=decision.purpose,
           result="allowed" if decision.allowed else "denied", details=decision.audit_details())
    return decision
