"""Open311 GeoReport v2 (``/open311/v2``), so existing Open311 apps and FixMyStreet-style clients can
file and follow requests. Reads are public, as the spec intends; POST needs an ``api_key`` (a
platform API key). Errors come back as Open311's ``[{"code", "description"}]`` list (or XML),
rendered by ``core.problems`` for the whole prefix.

Jurisdiction: ``jurisdiction_id`` may be omitted (this endpoint serves one city) or be the city's
GB/T 2260 code or ``changsha``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from xml.sax.saxutils import escape

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.deps import DbSession
from xingcheng.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from xingcheng.core.identity import service as identity
from xingcheng.core.identity.models import Department
from xingcheng.core.settings import get_settings
from xingcheng.governance.requests import service
from xingcheng.governance.requests.categories import CATEGORIES, get_category
from xingcheng.governance.requests.models import CitizenRequest
from xingcheng.governance.requests.schemas import MAX_DESCRIPTION, RequestCreate
from xingcheng.governance.requests.sla import BEIJING

public_router = APIRouter(prefix="/open311/v2", tags=["open311"])
Format = Literal["json", "xml"]
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
AUTO_SERVICE = {
    "service_code": service.AUTO_CODE, "service_name": "其他（智能分派）", "group": "其他",
    "description": "不确定归属哪个部门时选择此项：系统按描述自动分派到承办部门。", "keywords": "其他,不确定,智能分派",
}


# ---- rendering ---------------------------------------------------------------------------------

def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml(root: str, item: str, items: list[dict[str, Any]]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    for entry in items:
        parts.append(f"<{item}>")
        for key, value in entry.items():
            if isinstance(value, list):
                parts.append(f"<{key}>" + "".join(f"<{key[:-1]}>{_xml_value(v)}</{key[:-1]}>" for v in value) + f"</{key}>")
            else:
                parts.append(f"<{key}>{_xml_value(value)}</{key}>")
        parts.append(f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts)


def _respond(fmt: Format, root: str, item: str, items: list[dict[str, Any]], status_code: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, items), status_code=status_code, media_type="application/xml")
    return JSONResponse(items, status_code=status_code)


def _w3c(moment: datetime | None) -> str | None:
    return moment.astimezone(BEIJING).isoformat(timespec="seconds") if moment else None


def _parse_w3c(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a W3C date-time such as 2026-11-20T08:00:00+08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)


def _no_nul(*values: str | None) -> None:
    if any(value is not None and "\x00" in value for value in values):
        raise BadRequest("parameters must not contain NUL characters")


def _check_jurisdiction(jurisdiction_id: str | None) -> None:
    if jurisdiction_id not in (None, "", get_settings().city_code, "changsha"):
        raise NotFound(f"jurisdiction_id '{jurisdiction_id}' is not served here")


def _service_entry(service_code: str, service_name: str, group: str, description: str, keywords: str) -> dict[str, Any]:
    return {"service_code": service_code, "service_name": service_name, "description": description, "metadata": False,
            "type": "realtime", "keywords": keywords, "group": group}


def _services(session: Session) -> list[dict[str, Any]]:
    names = dict(session.execute(select(Department.code, Department.short_name)).all())
    entries = [
        _service_entry(c.code, c.name, c.group, f"承办：{names.get(c.department_code, c.department_code)}；"
                       f"办结时限 {c.sla_days} 个工作日", ",".join(c.keywords))
        for c in CATEGORIES
    ]
    entries.append(_service_entry(**AUTO_SERVICE))
    return entries


def _public_status(request: CitizenRequest, session: Session) -> tuple[str, CitizenRequest]:
    shown = request
    if request.status == "merged" and request.merged_into_id is not None:
        shown = session.get(CitizenRequest, request.merged_into_id) or request
    return ("closed" if shown.status in ("replied", "closed") else "open"), shown


def _request_entry(session: Session, request: CitizenRequest, departments: dict[str, str]) -> dict[str, Any]:
    status, shown = _public_status(request, session)
    category = get_category(request.category_code)
    notes = shown.reply or ("已合并至工单 " + shown.ticket if shown is not request else "")
    return {
        "service_request_id": request.ticket, "status": status, "status_notes": notes,
        "service_name": category.name if category else request.category_code, "service_code": request.category_code,
        "description": request.description, "agency_responsible": departments.get(shown.department_code or "", ""),
        "service_notice": "", "requested_datetime": _w3c(request.created_at), "updated_datetime": _w3c(request.updated_at),
        "expected_datetime": _w3c(shown.due_at), "address": request.address, "address_id": "", "zipcode": "",
        "lat": request.lat, "long": request.lon, "media_url": request.media_url or "",
    }


def _department_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Department.code, Department.name)).all())


# ---- routes ------------------------------------------------------------------------------------

@public_router.get("/services.{fmt}", operation_id="open311-services")
def services(session: DbSession, fmt: Format, jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    _check_jurisdiction(jurisdiction_id)
    return _respond(fmt, "services", "service", _services(session))


@public_router.get("/services/{service_code}.{fmt}", operation_id="open311-service-definition")
def service_definition(
    service_code: Annotated[str, Path(max_length=32)], fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Our services take no extra attributes (``metadata`` is false): the definition lists none."""
    _check_jurisdiction(jurisdiction_id)
    if get_category(service_code) is None and service_code != service.AUTO_CODE:
        raise NotFound(f"service_code '{service_code}' not found")
    body = {"service_code": service_code, "attributes": []}
    if fmt == "xml":
        xml = ('<?xml version="1.0" encoding="utf-8"?><service_definition>'
               f"<service_code>{escape(service_code)}</service_code><attributes></attributes></service_definition>")
        return Response(xml, media_type="application/xml")
    return JSONResponse(body)


def _number(name: str, value: str | None) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number in WGS84 decimal degrees") from None


Field = Annotated[str | None, Form(max_length=MAX_DESCRIPTION + 10)]


@public_router.post("/requests.{fmt}", operation_id="open311-requests-create")
def create_request(
    session: DbSession, fmt: Format,
    api_key: Field = None, jurisdiction_id: Field = None, service_code: Field = None,
    lat: Field = None, long: Field = None, address_string: Field = None, address_id: Field = None,
    email: Field = None, device_id: Field = None, account_id: Field = None, first_name: Field = None,
    last_name: Field = None, phone: Field = None, description: Field = None, media_url: Field = None,
    api_key_query: Annotated[str | None, Query(alias="api_key", max_length=200)] = None,
) -> Response:
    _no_nul(api_key, api_key_query, jurisdiction_id, service_code, lat, long, address_string, address_id, email, device_id,
            account_id, first_name, last_name, phone, description, media_url)
    key = api_key or api_key_query
    if not key:
        raise BadRequest("api_key is required to submit a request")
    try:
        client = identity.principal_from_api_key(session, full_key=key)
    except Unauthorized:
        raise Forbidden("Invalid api_key") from None
    _check_jurisdiction(jurisdiction_id)
    if not service_code:
        raise BadRequest("service_code is required")
    if get_category(service_code) is None and service_code != service.AUTO_CODE:
        raise BadRequest(f"service_code '{service_code}' not found")
    latitude, longitude = _number("lat", lat), _number("long", long)
    if (latitude is None or longitude is None) and not (address_string or address_id):
        raise BadRequest("a location is required: lat and long, or address_string")
    if not description or not description.strip():
        raise BadRequest("description is required")
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(f"description is longer than {MAX_DESCRIPTION} characters")
    name = " ".join(part for part in (last_name, first_name) if part) or None
    try:
        data = RequestCreate(
            description=description, category_code=service_code, address=(address_string or address_id or None),
            lon=longitude, lat=latitude, contact_name=name[:64] if name else None, contact_phone=phone or None,
            contact_email=email or None, media_url=media_url or None,
        )
    except ValueError as exc:
        raise BadRequest(str(exc).splitlines()[0] if str(exc) else "invalid request") from None
    request = service.submit(session, data=data, channel="open311", submitter=client, client_name=client.name)
    notice = "已受理，将按时限办理" if request.status != "merged" else "同一地点的同类问题已在办理，已合并"
    return _respond(fmt, "service_requests", "request",
                    [{"service_request_id": request.ticket, "token": request.token, "service_notice": notice,
                      "account_id": None}], 201)


@public_router.get("/requests.{fmt}", operation_id="open311-requests-list")
def list_requests(
    session: DbSession, fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=500)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    _check_jurisdiction(jurisdiction_id)
    _no_nul(service_request_id, service_code, start_date, end_date, status)
    statement = select(CitizenRequest)
    if service_request_id:
        # The spec: when ids are given, the other filters are ignored.
        tickets = [t.strip() for t in service_request_id.split(",") if t.strip()]
        statement = statement.where(CitizenRequest.ticket.in_(tickets))
    else:
        start, end = _parse_w3c("start_date", start_date), _parse_w3c("end_date", end_date)
        if start is None:
            start = (end or datetime.now(UTC)) - DEFAULT_WINDOW  # the spec's default: the last 90 days
        if end is not None and start > end:
            raise BadRequest("start_date is after end_date")
        statement = statement.where(CitizenRequest.created_at >= start)
        if end is not None:
            statement = statement.where(CitizenRequest.created_at <= end)
        if service_code:
            statement = statement.where(CitizenRequest.category_code.in_([c.strip() for c in service_code.split(",")]))
        if status:
            wanted = {s.strip().lower() for s in status.split(",") if s.strip()}
            if not wanted <= {"open", "closed"}:
                raise BadRequest("status must be open, closed or both, comma-separated")
            statuses: list[str] = []
            if "open" in wanted:
                statuses += ["dispatch", "assigned", "accepted"]
            if "closed" in wanted:
                statuses += ["replied", "closed"]
            statement = statement.where(CitizenRequest.status.in_(statuses))
    ordered = statement.order_by(CitizenRequest.created_at.desc(), CitizenRequest.id.desc()).limit(MAX_RESULTS)
    rows = session.scalars(ordered).all()
    departments = _department_names(session)
    return _respond(fmt, "service_requests", "request", [_request_entry(session, r, departments) for r in rows])


@public_router.get("/requests/{service_request_id}.{fmt}", operation_id="open311-requests-get")
def get_request(
    session: DbSession, service_request_id: Annotated[str, Path(max_length=40)], fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    _check_jurisdiction(jurisdiction_id)
    _no_nul(service_request_id)
    request = service.get_by_ticket(session, ticket=service_request_id)
    if request is None:
        raise NotFound(f"service_request_id '{service_request_id}' not found")
    return _respond(fmt, "service_requests", "request", [_request_entry(session, request, _department_names(session))])


@public_router.get("/tokens/{token}.{fmt}", operation_id="open311-tokens-get")
def get_token(
    session: DbSession, token: Annotated[str, Path(max_length=64)], fmt: Format,
    jurisdiction_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    _check_jurisdiction(jurisdiction_id)
    _no_nul(token)
    request = service.get_by_token(session, token=token)
    if request is None:
        raise NotFound(f"token '{token}' not found")
    return _respond(fmt, "service_requests", "request", [{"service_request_id": request.ticket, "token": request.token}])
