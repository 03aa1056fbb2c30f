"""Citizen requests: intake from every channel, routing, the handling workflow, duplicates and SLA.

Every state change writes a timeline event and an audit entry in the same transaction, and
notifies whoever acts next (the department, the dispatcher role, the citizen's account).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.identity.models import Department
from xingcheng.core.masking import mask
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.governance.requests import sla
from xingcheng.governance.requests.categories import DEFAULT_SLA_DAYS, by_code, default_category_for, get_category
from xingcheng.governance.requests.classifier import get_router
from xingcheng.governance.requests.location import distance_m, locate
from xingcheng.governance.requests.models import CitizenRequest, RequestEvent
from xingcheng.governance.requests.schemas import OPEN_STATUSES, RequestCreate

AUTO_CODE = "AUTO"  # the Open311 service "不确定分类，智能分派": routed by the classifier
CONFIDENCE_THRESHOLD = 0.45  # below it a dispatcher decides (the dispatcher queue)
DUPLICATE_RADIUS_M = 150.0
DUPLICATE_WINDOW = timedelta(hours=72)
DISPATCHER_ROLE = "operator"
SOURCE = "/requests"


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    department_code: str | None = None
    category_code: str | None = None
    division_code: str | None = None
    q: str | None = None
    overdue: bool | None = None
    citizen_account_id: int | None = None


# ---- reads --------------------------------------------------------------------------------------

def get(session: Session, *, request_id: int) -> CitizenRequest | None:
    return session.get(CitizenRequest, request_id)


def get_or_raise(session: Session, *, request_id: int) -> CitizenRequest:
    request = get(session, request_id=request_id)
    if request is None:
        raise NotFound(f"no request with id {request_id}")
    return request


def get_by_ticket(session: Session, *, ticket: str) -> CitizenRequest | None:
    return session.scalar(select(CitizenRequest).where(CitizenRequest.ticket == ticket))


def get_by_token(session: Session, *, token: str) -> CitizenRequest | None:
    return session.scalar(select(CitizenRequest).where(CitizenRequest.token == token))


def list_(
    session: Session, *, filters: Filters, page: PageParams, now: datetime | None = None
) -> tuple[list[CitizenRequest], int]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(CitizenRequest.status == filters.status)
    if filters.department_code:
        conditions.append(CitizenRequest.department_code == filters.department_code)
    if filters.category_code:
        conditions.append(CitizenRequest.category_code == filters.category_code)
    if filters.division_code:
        conditions.append(CitizenRequest.division_code == filters.division_code)
    if filters.citizen_account_id is not None:
        conditions.append(CitizenRequest.citizen_account_id == filters.citizen_account_id)
    if filters.q:
        pattern = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(CitizenRequest.description.like(pattern, escape="\\") | (CitizenRequest.ticket == filters.q))
    if filters.overdue is not None:
        moment = now or utcnow()
        late = CitizenRequest.status.in_(OPEN_STATUSES) & (CitizenRequest.due_at < moment)
        conditions.append(late if filters.overdue else ~late)
    statement = select(CitizenRequest).where(*conditions).order_by(CitizenRequest.created_at.desc(), CitizenRequest.id.desc())
    return paginate(session, statement, page)


def is_overdue(request: CitizenRequest, now: datetime | None = None) -> bool:
    return request.status in OPEN_STATUSES and request.due_at is not None and request.due_at < (now or utcnow())


def category_name(code: str) -> str:
    category = get_category(code)
    return category.name if category else code


def to_read(
    session: Session, request: CitizenRequest, *, viewer: Principal | None, now: datetime | None = None
) -> dict[str, Any]:
    """The API shape; the contact is in clear for the citizen, the handling department and dispatchers."""
    clear = viewer is not None and (
        viewer.has("requests:dispatch")
        or (viewer.account_id is not None and viewer.account_id == request.citizen_account_id)
        or (viewer.department_code is not None and viewer.department_code == request.department_code)
    )
    merged_into = session.get(CitizenRequest, request.merged_into_id) if request.merged_into_id else None
    return {
        "id": request.id, "ticket": request.ticket, "channel": request.channel, "status": request.status,
        "description": request.description, "category_code": request.category_code,
        "category_name": category_name(request.category_code), "department_code": request.department_code,
        "route_method": request.route_method, "route_confidence": request.route_confidence, "address": request.address,
        "lon": request.lon, "lat": request.lat, "division_code": request.division_code, "street": request.street,
        "contact_name": request.contact_name if clear else mask("name", request.contact_name),
        "contact_phone": request.contact_phone if clear else mask("phone", request.contact_phone),
        "media_url": request.media_url, "sla_days": request.sla_days, "due_at": request.due_at,
        "overdue": is_overdue(request, now), "escalation_level": request.escalation_level,
        "created_at": request.created_at, "assigned_at": request.assigned_at, "accepted_at": request.accepted_at,
        "replied_at": request.replied_at, "closed_at": request.closed_at, "reply": request.reply,
        "transfer_count": request.transfer_count, "reopen_count": request.reopen_count,
        "duplicate_count": request.duplicate_count, "merged_into_ticket": merged_into.ticket if merged_into else None,
        "satisfaction": request.satisfaction, "feedback": request.feedback,
    }


# ---- bookkeeping shared by every step -------------------------------------------------------------

def _actor_name(actor: Principal | str) -> str:
    return actor if isinstance(actor, str) else actor.name


def _step(
    session: Session, request: CitizenRequest, *, actor: Principal | str, action: str, to_status: str,
    note: str = "", now: datetime, details: dict[str, Any] | None = None,
) -> None:
    from_status = request.status if request.id is not None and request.events else None
    request.status = to_status
    request.updated_at = now
    request.events.append(RequestEvent(
        at=now, actor=_actor_name(actor)[:64], action=action, from_status=from_status, to_status=to_status,
        department_code=request.department_code, note=note,
    ))
    session.flush()
    audit.record(
        session, actor=actor, action=f"requests.{action}", subject=f"request:{request.ticket}",
        details={"from": from_status, "to": to_status, "department": request.department_code, **(details or {})},
    )


def _tell_department(session: Session, request: CitizenRequest, title: str, body: str = "") -> None:
    if request.department_code:
        notify(session, source=SOURCE, data=NotificationCreate(
            recipient_kind="department", recipient_key=request.department_code, title=title, body=body,
            link=f"/console/requests/{request.id}", channels=["in_app", "event"],
        ))


def _tell_dispatchers(session: Session, request: CitizenRequest, title: str, body: str = "") -> None:
    notify(session, source=SOURCE, data=NotificationCreate(
        recipient_kind="role", recipient_key=DISPATCHER_ROLE, title=title, body=body,
        link=f"/console/requests/{request.id}", channels=["in_app", "event"],
    ))


def _tell_citizen(session: Session, request: CitizenRequest, title: str, body: str = "") -> None:
    if request.citizen_account_id is not None:
        notify(session, source=SOURCE, data=NotificationCreate(
            recipient_kind="account", recipient_key=str(request.citizen_account_id), title=title, body=body,
            link=f"/portal/requests/{request.id}", channels=["in_app", "sms"],
        ))


def _department_exists(session: Session, code: str) -> None:
    if session.scalar(select(Department.id).where(Department.code == code)) is None:
        raise Invalid(f"unknown department code '{code}'")


# ---- intake ---------------------------------------------------------------------------------------

def _find_duplicate(session: Session, request: CitizenRequest, now: datetime) -> CitizenRequest | None:
    """An open request of the same category within the radius, filed in the window (the oldest)."""
    if request.lon is None or request.lat is None:
        return None
    # A bounding box first (≈ the radius), then the exact distance.
    box = DUPLICATE_RADIUS_M / 111_000 * 1.5
    candidates = session.scalars(
        select(CitizenRequest).where(
            CitizenRequest.category_code == request.category_code,
            CitizenRequest.status.in_((*OPEN_STATUSES, "replied")),
            CitizenRequest.created_at >= now - DUPLICATE_WINDOW,
            CitizenRequest.lon.between(request.lon - box, request.lon + box),
            CitizenRequest.lat.between(request.lat - box, request.lat + box),
            CitizenRequest.id != request.id,
        ).order_by(CitizenRequest.created_at, CitizenRequest.id)
    ).all()
    for candidate in candidates:
        if candidate.lon is not None and candidate.lat is not None and distance_m(
            request.lon, request.lat, candidate.lon, candidate.lat
        ) <= DUPLICATE_RADIUS_M:
            return candidate
    return None


def submit(
    session: Session, *, data: RequestCreate, channel: str, submitter: Principal | None = None,
    client_name: str | None = None, now: datetime | None = None,
) -> CitizenRequest:
    """Take a request in: locate it, route it (or queue it for a dispatcher), merge it if it repeats one."""
    now = now or utcnow()
    description = data.description.strip()
    if not description:
        raise Invalid("the description must not be empty")
    location = locate(session, lon=data.lon, lat=data.lat, address=data.address, description=description)
    confidence: float | None = None
    department: str | None
    if data.category_code and data.category_code != AUTO_CODE:
        category = get_category(data.category_code)
        if category is None:
            raise NotFound(f"unknown service code '{data.category_code}'")
        method, department = "citizen", category.department_code
    else:
        route = get_router().route(description)
        category = by_code()[route.category_code]
        confidence = route.confidence
        department = route.department_code if confidence >= CONFIDENCE_THRESHOLD else None
        method = "auto" if department else "dispatcher"
    token = secrets.token_hex(16)
    request = CitizenRequest(
        ticket=token[:20], token=token, channel=channel, client_name=client_name, description=description,
        category_code=category.code, department_code=department, route_confidence=confidence, route_method=method,
        status="dispatch", address=location.address, lon=location.lon, lat=location.lat,
        division_code=location.division_code, street=location.street,
        citizen_account_id=(
            submitter.account_id if submitter is not None and submitter.kind in ("citizen", "enterprise") else None
        ),
        contact_name=data.contact_name, contact_phone=data.contact_phone, contact_email=data.contact_email,
        media_url=data.media_url, sla_days=category.sla_days or DEFAULT_SLA_DAYS, created_at=now, updated_at=now,
    )
    session.add(request)
    session.flush()
    request.ticket = f"CS{now.astimezone(sla.BEIJING):%y%m%d}{request.id:07d}"[:20]
    actor: Principal | str = submitter or (client_name or "citizen")
    original = _find_duplicate(session, request, now)
    if original is not None:
        request.merged_into_id = original.id
        request.department_code = original.department_code
        original.duplicate_count += 1
        _step(session, request, actor=actor, action="submit", to_status="merged", now=now,
              note=f"同一地点同类诉求已在办理，合并至工单 {original.ticket}", details={"merged_into": original.ticket})
        _tell_citizen(session, request, f"您的诉求已合并至工单 {original.ticket}",
                      "同一地点的同类问题已在办理中，办理结果将一并回复。")
        return request
    if department is not None:
        request.assigned_at = now
        request.due_at = sla.add_working_days(now, request.sla_days)
        _step(session, request, actor=actor, action="submit", to_status="assigned", now=now,
              note=f"自动分派（置信度 {confidence:.0%}）" if confidence is not None else "按市民选择的类别分派",
              details={"category": category.code, "confidence": confidence, "channel": channel})
        _tell_department(session, request, f"新诉求 {request.ticket}：{category.name}", description[:200])
    else:
        _step(session, request, actor=actor, action="submit", to_status="dispatch", now=now,
              note=f"分类置信度 {confidence or 0:.0%}，转人工派单", details={"category": category.code, "confidence": confidence})
        _tell_dispatchers(session, request, f"待派单诉求 {request.ticket}", description[:200])
    _tell_citizen(session, request, f"您的诉求已受理，工单号 {request.ticket}", "可在“我的诉求”中查看办理进度。")
    return request


# ---- the handling workflow -------------------------------------------------------------------------

def _require_status(request: CitizenRequest, *allowed: str) -> None:
    if request.status not in allowed:
        raise Conflict(f"request {request.ticket} is '{request.status}'; this step needs {' or '.join(allowed)}")


def _require_handler(request: CitizenRequest, actor: Principal) -> None:
    """Department staff act on their own department's requests; dispatchers (and admins) on any."""
    actor.require("requests:handle")
    if actor.has("requests:dispatch"):
        return
    if actor.department_code is None or actor.department_code != request.department_code:
        raise Forbidden(f"request {request.ticket} is with department '{request.department_code}', not yours")


def _require_owner(request: CitizenRequest, actor: Principal) -> None:
    if actor.has("requests:dispatch"):
        return  # a call-back (回访) recorded by the hotline on the citizen's behalf
    if actor.account_id is None or actor.account_id != request.citizen_account_id:
        raise Forbidden("only the citizen who filed the request can do this")


def dispatch(
    session: Session, *, request_id: int, department_code: str, category_code: str | None, actor: Principal,
    note: str = "", now: datetime | None = None,
) -> CitizenRequest:
    actor.require("requests:dispatch")
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_status(request, "dispatch", "assigned")
    _department_exists(session, department_code)
    if category_code is not None:
        category = get_category(category_code)
        if category is None:
            raise Invalid(f"unknown category code '{category_code}'")
        request.category_code = category.code
        request.sla_days = category.sla_days
    elif get_category(request.category_code) is None or by_code()[request.category_code].department_code != department_code:
        fallback = default_category_for(department_code)
        if fallback is not None:
            request.category_code, request.sla_days = fallback.code, fallback.sla_days
    request.department_code = department_code
    request.route_method = "dispatcher"
    request.assigned_at = now
    request.due_at = request.due_at or sla.add_working_days(now, request.sla_days)
    _step(session, request, actor=actor, action="dispatch", to_status="assigned", now=now, note=note or "人工派单")
    _tell_department(session, request, f"新诉求 {request.ticket}：{category_name(request.category_code)}",
                     request.description[:200])
    return request


def accept(session: Session, *, request_id: int, actor: Principal, now: datetime | None = None) -> CitizenRequest:
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_handler(request, actor)
    _require_status(request, "assigned")
    request.accepted_at = now
    _step(session, request, actor=actor, action="accept", to_status="accepted", now=now, note="部门已签收")
    _tell_citizen(session, request, f"工单 {request.ticket} 已由承办部门签收")
    return request


def transfer(
    session: Session, *, request_id: int, reason: str, to_department_code: str | None, actor: Principal,
    now: datetime | None = None,
) -> CitizenRequest:
    """Hand the request on (with the reason): to another department, or back to the dispatcher."""
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_handler(request, actor)
    _require_status(request, "assigned", "accepted")
    if to_department_code is not None:
        _department_exists(session, to_department_code)
        if to_department_code == request.department_code:
            raise Invalid("the request is already with that department")
    previous = request.department_code
    request.transfer_count += 1
    request.accepted_at = None
    request.department_code = to_department_code
    if to_department_code is not None:
        fallback = default_category_for(to_department_code)
        if fallback is not None and by_code()[request.category_code].department_code != to_department_code:
            request.category_code = fallback.code
        request.route_method = "transfer"
        request.assigned_at = now
        _step(session, request, actor=actor, action="transfer", to_status="assigned", now=now,
              note=f"由 {previous} 转 {to_department_code}：{reason}", details={"from_department": previous, "reason": reason})
        _tell_department(session, request, f"转办诉求 {request.ticket}", f"转办理由：{reason}")
    else:
        _step(session, request, actor=actor, action="transfer", to_status="dispatch", now=now,
              note=f"{previous} 退回派单：{reason}", details={"from_department": previous, "reason": reason})
        _tell_dispatchers(session, request, f"退回诉求 {request.ticket}", f"退回理由：{reason}")
    return request


def record_progress(
    session: Session, *, request_id: int, note: str, actor: Principal, now: datetime | None = None
) -> CitizenRequest:
    """A handling note (现场核查, 已约谈商户 …) without changing the status."""
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_handler(request, actor)
    _require_status(request, "accepted")
    _step(session, request, actor=actor, action="handle", to_status="accepted", now=now, note=note)
    return request


def reply(session: Session, *, request_id: int, text: str, actor: Principal, now: datetime | None = None) -> CitizenRequest:
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_handler(request, actor)
    _require_status(request, "accepted")
    request.reply = text
    request.replied_at = now
    _step(session, request, actor=actor, action="reply", to_status="replied", now=now, note=text,
          details={"on_time": request.due_at is None or now <= request.due_at})
    _tell_citizen(session, request, f"工单 {request.ticket} 已办理回复", text[:200])
    for duplicate in _duplicates_of(session, request):
        duplicate.reply, duplicate.replied_at = text, now
        _step(session, duplicate, actor=actor, action="reply", to_status="merged", now=now, note=text)
        _tell_citizen(session, duplicate, f"工单 {duplicate.ticket} 已办理回复", text[:200])
    return request


def _duplicates_of(session: Session, request: CitizenRequest) -> Sequence[CitizenRequest]:
    return session.scalars(select(CitizenRequest).where(CitizenRequest.merged_into_id == request.id)).all()


def confirm(
    session: Session, *, request_id: int, satisfaction: int, feedback: str, actor: Principal, now: datetime | None = None,
) -> CitizenRequest:
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_owner(request, actor)
    _require_status(request, "replied")
    request.satisfaction, request.feedback, request.closed_at = satisfaction, feedback or None, now
    _step(session, request, actor=actor, action="confirm", to_status="closed", now=now,
          note=f"满意度 {satisfaction}/5" + (f"：{feedback}" if feedback else ""), details={"satisfaction": satisfaction})
    if satisfaction <= 2:
        _tell_department(session, request, f"工单 {request.ticket} 市民评价不满意", feedback)
    return request


def reopen(session: Session, *, request_id: int, reason: str, actor: Principal, now: datetime | None = None) -> CitizenRequest:
    """The citizen says the problem is not solved: back to the same department, with a fresh clock."""
    now = now or utcnow()
    request = get_or_raise(session, request_id=request_id)
    _require_owner(request, actor)
    _require_status(request, "replied", "closed")
    if request.status == "closed" and request.closed_at is not None and now - request.closed_at > sla.AUTO_CLOSE_AFTER:
        raise Conflict("a request closed more than 7 days ago cannot be reopened; file a new one")
    request.reopen_count += 1
    request.reply, request.replied_at, request.closed_at = None, None, None
    request.satisfaction, request.feedback = None, None
    request.accepted_at = now
    request.due_at = sla.add_working_days(now, request.sla_days)
    request.warned_at, request.escalation_level = None, 0
    _step(session, request, actor=actor, action="reopen", to_status="accepted", now=now, note=reason, details={"reason": reason})
    _tell_department(session, request, f"诉求 {request.ticket} 被市民退回重办", reason)
    return request


def merge(session: Session, *, request_id: int, into_id: int, actor: Principal, now: datetime | None = None) -> CitizenRequest:
    actor.require("requests:dispatch")
    now = now or utcnow()
    if request_id == into_id:
        raise Invalid("a request cannot be merged into itself")
    request = get_or_raise(session, request_id=request_id)
    original = get_or_raise(session, request_id=into_id)
    _require_status(request, *OPEN_STATUSES)
    _require_status(original, *OPEN_STATUSES, "replied")
    request.merged_into_id = original.id
    request.department_code = original.department_code
    original.duplicate_count += 1 + request.duplicate_count
    for duplicate in _duplicates_of(session, request):
        duplicate.merged_into_id = original.id
    request.duplicate_count = 0
    _step(session, request, actor=actor, action="merge", to_status="merged", now=now,
          note=f"合并至工单 {original.ticket}", details={"merged_into": original.ticket})
    _tell_citizen(session, request, f"您的诉求已合并至工单 {original.ticket}")
    return request


# ---- SLA ----------------------------------------------------------------------------------------

def sla_tick(session: Session, *, now: datetime | None = None, actor: str = "requests.sla") -> dict[str, int]:
    """Warn a day before deadlines, escalate overdue requests, close replies nobody answered in 7 days.

    Idempotent: run it as often as you like (the server runs it every few minutes; ``xingcheng
    requests sla`` runs it once).
    """
    now = now or utcnow()
    warned = escalated = closed = 0
    open_requests = session.scalars(
        select(CitizenRequest).where(CitizenRequest.status.in_(("assigned", "accepted")), CitizenRequest.due_at.is_not(None))
    ).all()
    for request in open_requests:
        assert request.due_at is not None
        if request.warned_at is None and now >= request.due_at - sla.WARN_BEFORE and now <= request.due_at:
            request.warned_at = now
            warned += 1
            _step(session, request, actor=actor, action="warn", to_status=request.status, now=now, note="距办结时限不足一天")
            _tell_department(session, request, f"工单 {request.ticket} 即将超期", f"办结时限 {request.due_at:%Y-%m-%d %H:%M} UTC")
        level = sla.escalation_level(request.due_at, now)
        if level > request.escalation_level:
            request.escalation_level = level
            escalated += 1
            _step(session, request, actor=actor, action="escalate", to_status=request.status, now=now,
                  note=f"超期督办（{level} 级）", details={"level": level})
            _tell_department(session, request, f"工单 {request.ticket} 已超期，{level} 级督办")
            _tell_dispatchers(session, request, f"超期工单 {request.ticket}（{level} 级督办）",
                              f"承办部门：{request.department_code}")
            if level >= 3:
                notify(session, source=SOURCE, data=NotificationCreate(
                    recipient_kind="role", recipient_key="admin", title=f"严重超期工单 {request.ticket}",
                    body=f"承办部门：{request.department_code}", link=f"/console/requests/{request.id}",
                ))
    stale = session.scalars(
        select(CitizenRequest).where(CitizenRequest.status == "replied", CitizenRequest.replied_at < now - sla.AUTO_CLOSE_AFTER)
    ).all()
    for request in stale:
        request.closed_at = now
        closed += 1
        _step(session, request, actor=actor, action="auto_close", to_status="closed", now=now, note="市民 7 日内未评价，自动办结")
    return {"warned": warned, "escalated": escalated, "auto_closed": closed}
