"""Cross-department sharing: a department asks, the owner decides, approval issues a grant, delivery is masked.

Every delivery — pulled pages, pushed events and files — reads rows through ``can_read`` with the
catalogue's descriptor, masks them over Arrow (``delivery``), records a ``Delivery`` row and an
``exchange.deliver`` audit entry carrying the SHA-256 of the bytes that left, and hands that hash
to the consumer. A revoked or expired grant fails the very next ``can_read``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.grants import service as grants
from xingcheng.core.grants.models import DataGrant
from xingcheng.core.grants.policy import AccessDecision, rank
from xingcheng.core.grants.schemas import GrantCreate
from xingcheng.core.identity.models import Department
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.catalog.stream import Cursor, Part, parts_from
from xingcheng.datahub.exchange.models import Delivery, ShareRequest
from xingcheng.datahub.exchange.schemas import RequestApprove, RequestCreate

OVERSEERS = frozenset({Role.ADMIN, Role.DATA_STEWARD})
MAX_PERIOD = timedelta(days=3 * 366)
SOURCE = "/exchange"


class DeliveryRefused(Forbidden):
    """A refused delivery; its ``grant.decide`` entry is recorded already, so the edge commits before the 403."""


def lake_root() -> Path:
    """Where the catalogue's ``ParquetLake`` keeps the parts (``catalog.storage.default_store``)."""
    return get_settings().data_dir / "lake"


def _staff_department(principal: Principal, what: str) -> str:
    if not principal.is_staff or not principal.department_code:
        raise Forbidden(f"only staff of a department can {what}")
    return principal.department_code


def _visible(statement: Select[ShareRequest], viewer: Principal) -> Select[ShareRequest]:
    if viewer.roles & OVERSEERS:
        return statement
    department = _staff_department(viewer, "see share requests")
    return statement.where(or_(ShareRequest.owner_department_code == department,
                               ShareRequest.requester_department_code == department))


def get_or_raise(session: Session, *, request_id: int, viewer: Principal) -> ShareRequest:
    request = session.scalar(_visible(select(ShareRequest).where(ShareRequest.id == request_id), viewer))
    if request is None:
        raise NotFound(f"no share request {request_id} that you can see")
    return request


def list_requests(session: Session, *, viewer: Principal, page: PageParams, box: str = "all", status: str | None = None,
                  dataset: str | None = None) -> tuple[list[ShareRequest], int]:
    """``box``: ``inbox`` (asked of my department), ``mine`` (asked by it) or ``all`` that the viewer may see."""
    statement = _visible(select(ShareRequest), viewer)
    if box != "all":
        department = _staff_department(viewer, "have an inbox")
        column = ShareRequest.owner_department_code if box == "inbox" else ShareRequest.requester_department_code
        statement = statement.where(column == department)
    if status:
        statement = statement.where(ShareRequest.status == status)
    if dataset:
        statement = statement.where(ShareRequest.dataset_slug == dataset)
    return paginate(session, statement.order_by(ShareRequest.id.desc()), page)


def _notify_department(session: Session, department: str, title: str, body: str, request: ShareRequest) -> None:
    notify(session, source=SOURCE, data=NotificationCreate(
        recipient_kind="department", recipient_key=department, title=title[:200], body=body[:5000],
        link=f"/console/datahub/exchange?request={request.id}"))


def _publish(session: Session, request: ShareRequest, change: str) -> None:
    publish_after_commit(session, event_topic("exchange", "request"), Event(
        type=f"xingcheng.exchange.request.{change}", source=SOURCE, subject=f"exchange-request:{request.id}",
        data={"id": request.id, "dataset": request.dataset_slug, "owner": request.owner_department_code,
              "requester": request.requester_department_code, "status": request.status, "grant_id": request.grant_id}))


def create_request(session: Session, *, data: RequestCreate, requester: Principal, now: datetime | None = None,
                   ) -> ShareRequest:
    now = now or utcnow()
    requester.require("exchange:request")
    department = _staff_department(requester, "request data")
    owner, name = data.dataset.split("/", 1)
    dataset = catalog.get_or_raise(session, owner=owner, name=name)
    if dataset.owner_department_code == department:
        raise Invalid(f"department {department!r} owns {dataset.slug} already: no request is needed")
    if rank(dataset.grade) < 3:
        raise Invalid(f"{dataset.slug} is {dataset.grade}: any staff member reads it without a grant; "
                      "share requests are for L3/L4 data")
    known = [f["name"] for f in catalog.current_fields(session, dataset)]
    unknown = [n for n in data.fields or [] if n not in known]
    if unknown:
        raise Invalid(f"{dataset.slug} has no field {', '.join(map(repr, unknown))}; its fields are {', '.join(known)}")
    if data.requested_until <= now:
        raise Invalid("requested_until is in the past")
    if data.requested_until - now > MAX_PERIOD:
        raise Invalid("share requests run for at most three years; ask again when it ends")
    duplicate = session.scalar(select(ShareRequest.id).where(
        ShareRequest.dataset_id == dataset.id, ShareRequest.requester_department_code == department,
        ShareRequest.purpose == data.purpose, ShareRequest.status == "pending").limit(1))
    if duplicate is not None:
        raise Conflict(f"request #{duplicate} of department {department!r} for {dataset.slug} and purpose "
                       f"{data.purpose!r} is still pending")
    request = ShareRequest(
        dataset_id=dataset.id, dataset_slug=dataset.slug, owner_department_code=dataset.owner_department_code,
        requester_department_code=department, requested_by=requester.name, fields=data.fields, purpose=data.purpose,
        legal_basis=data.legal_basis, requested_until=data.requested_until, status="pending")
    session.add(request)
    session.flush()
    audit.record(session, actor=requester, action="exchange.request.create", subject=catalog.resource_key(dataset),
                 purpose=data.purpose, details={"request_id": request.id, "fields": data.fields,
                                                "legal_basis": data.legal_basis})
    _notify_department(session, dataset.owner_department_code, f"数据共享申请：{dataset.title}",
                       f"{department} 申请共享 {dataset.title}，用途：{data.purpose}；依据：{data.legal_basis}", request)
    _publish(session, request, "created")
    return request


def _decider(session: Session, request: ShareRequest, decider: Principal) -> None:
    decider.require("exchange:decide")
    if decider.department_code != request.owner_department_code:
        raise Forbidden(f"only staff of the owning department {request.owner_department_code!r} decide on request "
                        f"#{request.id}")
    if request.status != "pending":
        raise Conflict(f"request #{request.id} is {request.status} already")


def approve(session: Session, *, request_id: int, approver: Principal, data: RequestApprove,
            now: datetime | None = None) -> ShareRequest:
    """The owner approves: a grant (fields, ceiling, purpose, expiry) is issued through ``core.grants``."""
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id, viewer=approver)
    _decider(session, request, approver)
    dataset = session.get(Dataset, request.dataset_id)
    if dataset is None:
        raise NotFound(f"the dataset of request #{request.id} no longer exists")
    fields = {f["name"]: f["grade"] for f in catalog.current_fields(session, dataset)}
    asked = request.fields or list(fields)
    granted = data.fields if data.fields is not None else request.fields
    beyond = [n for n in granted or [] if n not in asked]
    if beyond:
        raise Invalid(f"the grant can narrow the request but not widen it: {', '.join(beyond)} were not requested")
    highest = max((fields.get(n, "L1") for n in (granted or asked)), key=rank)
    ceiling = data.grade_ceiling or ("L4" if highest == "L4" else "L3")
    grant = grants.create_grant(session, granted_by=approver, now=now, data=GrantCreate(
        resource_key=catalog.resource_key(dataset), grantee_department_code=request.requester_department_code,
        fields=granted, grade_ceiling=ceiling, purpose=request.purpose, reference=f"exchange-request:{request.id}",
        expires_at=data.expires_at or request.requested_until))
    request.status, request.grant_id = "approved", grant.id
    request.decided_by, request.decided_at, request.decision_reason = approver.name, now, data.reason
    session.flush()
    audit.record(session, actor=approver, action="exchange.request.approve", subject=grant.resource_key,
                 purpose=request.purpose, details={"request_id": request.id, "grant_id": grant.id, "reason": data.reason})
    _notify_department(session, request.requester_department_code, f"共享申请已批准：{dataset.title}",
                       f"申请 #{request.id} 已批准，授权 #{grant.id} 有效期至 {grant.expires_at:%Y-%m-%d}。{data.reason}",
                       request)
    _publish(session, request, "approved")
    return request


def reject(session: Session, *, request_id: int, approver: Principal, reason: str, now: datetime | None = None,
           ) -> ShareRequest:
    request = get_or_raise(session, request_id=request_id, viewer=approver)
    _decider(session, request, approver)
    request.status, request.decided_by, request.decided_at = "rejected", approver.name, now or utcnow()
    request.decision_reason = reason
    session.flush()
    audit.record(session, actor=approver, action="exchange.request.reject", subject=f"dataset:{request.dataset_slug}",
                 purpose=request.purpose, details={"request_id": request.id, "reason": reason})
    _notify_department(session, request.requester_department_code, f"共享申请被驳回：{request.dataset_slug}",
                       f"申请 #{request.id} 被驳回：{reason}", request)
    _publish(session, request, "rejected")
    return request


def revoke(session: Session, *, request_id: int, revoker: Principal, reason: str) -> ShareRequest:
    """Revoke the grant of an approved request: the owning department or a data steward; effective at once."""
    request = get_or_raise(session, request_id=request_id, viewer=revoker)
    revoker.require("exchange:decide")
    if revoker.department_code != request.owner_department_code and not revoker.has("grants:manage"):
        raise Forbidden(f"only the owning department {request.owner_department_code!r} or a data steward can revoke")
    if request.grant_id is None:
        raise Conflict(f"request #{request.id} is {request.status}: there is no grant to revoke")
    grants.revoke_grant(session, grant_id=request.grant_id, revoked_by=revoker, reason=reason)
    for subscription in request_subscriptions(session, request.id):
        subscription.active = False
    audit.record(session, actor=revoker, action="exchange.request.revoke", subject=f"dataset:{request.dataset_slug}",
                 purpose=request.purpose, details={"request_id": request.id, "grant_id": request.grant_id, "reason": reason})
    _notify_department(session, request.requester_department_code, f"共享授权已撤销：{request.dataset_slug}",
                       f"申请 #{request.id} 的授权 #{request.grant_id} 已撤销：{reason}", request)
    _publish(session, request, "revoked")
    return request


def request_subscriptions(session: Session, request_id: int) -> list[Any]:
    from xingcheng.datahub.exchange.models import ShareSubscription

    return list(session.scalars(select(ShareSubscription).where(ShareSubscription.request_id == request_id)))


def grant_status(session: Session, request: ShareRequest, now: datetime | None = None) -> str | None:
    grant = session.get(DataGrant, request.grant_id) if request.grant_id else None
    return grant.state(now) if grant is not None else None


# ---- delivery --------------------------------------------------------------------------------


@dataclass
class Source:
    """What a delivery of one request reads: its dataset, its decision and the parts after a cursor."""

    request: ShareRequest
    dataset: Dataset
    decision: AccessDecision
    schema: pa.Schema
    parts: list[Part]


def _refusal(session: Session, request: ShareRequest, decision: AccessDecision) -> str:
    grant = session.get(DataGrant, request.grant_id) if request.grant_id else None
    if grant is not None and grant.revoked_at is not None:
        return f"grant #{grant.id} of request #{request.id} was revoked by {grant.revoked_by}: {grant.revoke_reason}"
    if grant is not None and grant.expires_at <= utcnow():
        return f"grant #{grant.id} of request #{request.id} expired at {grant.expires_at:%Y-%m-%d %H:%M}Z"
    return decision.reason


def open_source(session: Session, *, request: ShareRequest, consumer: Principal, cursor: Cursor) -> Source:
    """Check the consumer and decide the read (audited); ``DeliveryRefused`` says why not."""
    if consumer.department_code != request.requester_department_code:
        raise Forbidden(f"request #{request.id} was made by department {request.requester_department_code!r}; "
                        "only its staff receive the data")
    if request.status != "approved":
        raise DeliveryRefused(f"request #{request.id} is {request.status}: nothing is delivered before approval")
    dataset = session.get(Dataset, request.dataset_id)
    if dataset is None:
        raise NotFound(f"the dataset of request #{request.id} no longer exists")
    decision = grants.can_read(session, consumer, catalog.descriptor(session, dataset), request.purpose)
    if not decision.allowed:
        raise DeliveryRefused(_refusal(session, request, decision))
    schema = arrow_schema(catalog.current_fields(session, dataset))
    parts = parts_from(session, dataset_id=dataset.id, schema_version=dataset.schema_version, cursor=cursor)
    return Source(request, dataset, decision, schema, parts)


def consumer_division(session: Session, department: str) -> str | None:
    return session.scalar(select(Department.division_code).where(Department.code == department))


def record_delivery(session: Session, *, source: Source, actor: Principal, channel: str, fmt: str, records: int,
                    size: int, digest: str, cursor_from: Cursor, cursor_to: Cursor, subscription_id: int | None = None,
                    file: str | None = None, fields: dict[str, str] | None = None, compression: str | None = None,
                    ) -> Delivery:
    """The delivery log row and its audit entry (content hash = SHA-256 of the delivered bytes as sent)."""
    now = utcnow()
    request = source.request
    entry = audit.record_entry(
        session, actor=actor, action="exchange.deliver", subject=catalog.resource_key(source.dataset),
        purpose=request.purpose, result=source.decision.basis, content_hash=bytes.fromhex(digest),
        details={"request_id": request.id, "channel": channel, "format": fmt, "records": records, "bytes": size,
                 "cursor_from": str(cursor_from), "cursor_to": str(cursor_to), "fields": fields or {},
                 "grant_ids": list(source.decision.grant_ids), "subscription_id": subscription_id, "file": file,
                 **({"compression": compression} if compression else {})})
    session.flush()  # the delivery row points at the entry
    delivery = Delivery(
        request_id=request.id, subscription_id=subscription_id, dataset_slug=source.dataset.slug,
        owner_department_code=source.dataset.owner_department_code,
        consumer_department_code=request.requester_department_code,
        division_code=consumer_division(session, request.requester_department_code), channel=channel, format=fmt,
        purpose=request.purpose, records=records, size_bytes=size, content_hash=digest, cursor_from=str(cursor_from),
        cursor_to=str(cursor_to), grant_ids=list(source.decision.grant_ids), file=file, audit_entry_id=entry.id,
        delivered_by=actor.name, delivered_at=now, day=now.date())
    session.add(delivery)
    session.flush()
    return delivery


def list_deliveries(session: Session, *, viewer: Principal, page: PageParams, request_id: int | None = None,
                    ) -> tuple[list[Delivery], int]:
    statement = select(Delivery)
    if not viewer.roles & OVERSEERS:
        department = _staff_department(viewer, "see deliveries")
        statement = statement.where(or_(Delivery.consumer_department_code == department,
                                        Delivery.owner_department_code == department))
    if request_id is not None:
        statement = statement.where(Delivery.request_id == request_id)
    return paginate(session, statement.order_by(Delivery.id.desc()), page)


def verify(session: Session, *, content_hash: str) -> dict[str, Any]:
    """Find the delivery a hash belongs to and its audit entry: proof of what a consumer received."""
    delivery = session.scalar(select(Delivery).where(Delivery.content_hash == content_hash).order_by(Delivery.id).limit(1))
    if delivery is None:
        raise NotFound(f"no delivery with content hash {content_hash} in the exchange log")
    from xingcheng.core.audit.models import AuditEntry

    entry = session.get(AuditEntry, delivery.audit_entry_id) if delivery.audit_entry_id else None
    valid = entry is not None and entry.content_hash is not None and bytes(entry.content_hash).hex() == content_hash
    return {"valid": valid, "content_hash": content_hash, "delivery": delivery,
            "audit_entry_id": entry.id if entry else None, "leaf_index": entry.leaf_index if entry else None,
            "recorded_at": entry.recorded_at if entry else None, "actor": entry.actor_name if entry else None,
            "subject": entry.subject if entry else None}
