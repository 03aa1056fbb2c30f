"""Exchange routes: requests and decisions, paged pulls with a cursor, push subscriptions, delivery log, proofs, statistics."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, RowId, require
from xingcheng.core.errors import Invalid
from xingcheng.core.schemas import Page
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.delivery import COMPRESSIONS, MEDIA_TYPES
from xingcheng.datahub.exchange.models import ShareRequest, ShareSubscription
from xingcheng.datahub.exchange.schemas import (
    DATASET_SLUG_PATTERN,
    Compression,
    DeliveryRead,
    ExchangeStats,
    FileFormat,
    Proof,
    PullFormat,
    PullPage,
    Reason,
    RequestApprove,
    RequestCreate,
    RequestRead,
    RequestStatus,
    RunResult,
    SubscriptionCreate,
    SubscriptionRead,
    VerifyRequest,
)
from xingcheng.datahub.exchange.stats import exchange_stats

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])

Reader = Annotated[Principal, Depends(require("exchange:read"))]
Requester = Annotated[Principal, Depends(require("exchange:request"))]
Decider = Annotated[Principal, Depends(require("exchange:decide"))]
JSON_PAGE_MAX, BINARY_PAGE_MAX = 1000, 100_000
CODECS = "; ".join(f"{fmt}: {', '.join(codecs)} (default {codecs[0]})" for fmt, codecs in COMPRESSIONS.items())


def request_view(session: Session, request: ShareRequest) -> dict[str, Any]:
    view = {name: getattr(request, name) for name in RequestRead.model_fields if name != "grant_status"}
    view["grant_status"] = service.grant_status(session, request)
    return view


def subscription_view(session: Session, subscription: ShareSubscription) -> dict[str, Any]:
    view = {name: getattr(subscription, name) for name in SubscriptionRead.model_fields if name != "topic"}
    request = session.get(ShareRequest, subscription.request_id)
    view["topic"] = flows.delivery_topic(request.requester_department_code) if request else None
    return view


@router.post("/requests", response_model=RequestRead, status_code=201, operation_id="exchange-requests-create")
def create_request(data: RequestCreate, session: DbSession, requester: Requester) -> Any:
    return request_view(session, service.create_request(session, data=data, requester=requester))


@router.get("/requests", response_model=Page[RequestRead], operation_id="exchange-requests-list")
def list_requests(
    session: DbSession, page: Pagination, viewer: Reader,
    box: Annotated[Literal["all", "inbox", "mine"], Query(description="inbox: asked of my department; mine: asked by it")]
    = "all",
    status: Annotated[RequestStatus | None, Query()] = None,
    dataset: Annotated[str, Query(pattern=f"({DATASET_SLUG_PATTERN})|^$")] = "",
) -> Any:
    items, total = service.list_requests(session, viewer=viewer, page=page, box=box, status=status,
                                         dataset=dataset or None)
    return {"items": [request_view(session, r) for r in items], "total": total, "limit": page.limit,
            "offset": page.offset}


@router.get("/requests/{request_id}", response_model=RequestRead, operation_id="exchange-requests-get")
def get_request(request_id: RowId, session: DbSession, viewer: Reader) -> Any:
    return request_view(session, service.get_or_raise(session, request_id=request_id, viewer=viewer))


@router.post("/requests/{request_id}/approve", response_model=RequestRead, operation_id="exchange-requests-approve")
def approve(request_id: RowId, data: RequestApprove, session: DbSession, decider: Decider) -> Any:
    return request_view(session, service.approve(session, request_id=request_id, approver=decider, data=data))


@router.post("/requests/{request_id}/reject", response_model=RequestRead, operation_id="exchange-requests-reject")
def reject(request_id: RowId, data: Reason, session: DbSession, decider: Decider) -> Any:
    return request_view(session, service.reject(session, request_id=request_id, approver=decider, reason=data.reason))


@router.post("/requests/{request_id}/revoke", response_model=RequestRead, operation_id="exchange-requests-revoke")
def revoke(request_id: RowId, data: Reason, session: DbSession, decider: Decider) -> Any:
    return request_view(session, service.revoke(session, request_id=request_id, revoker=decider, reason=data.reason))


@router.get("/requests/{request_id}/rows", response_model=PullPage, operation_id="exchange-requests-pull",
            responses={200: {"content": {MEDIA_TYPES["arrow"]: {}, MEDIA_TYPES["parquet"]: {}}}})
def pull(
    request_id: RowId, session: DbSession, consumer: Requester,
    cursor: Annotated[str, Query(pattern=r"^((0|[1-9][0-9]{0,17})\.(0|[1-9][0-9]{0,17}))?$",
                                 description="next_cursor of the previous page; empty: from the first row")] = "",
    limit: Annotated[int, Query(ge=1, le=BINARY_PAGE_MAX, description=f"rows; at most {JSON_PAGE_MAX} as JSON")] = 100,
    format: Annotated[PullFormat, Query(description="json | arrow (IPC stream) | parquet")] = "json",
    compression: Annotated[Compression | None, Query(description=f"binary pages only; {CODECS}")] = None,
) -> Any:
    if format == "json" and limit > JSON_PAGE_MAX:
        raise Invalid(f"JSON pages hold at most {JSON_PAGE_MAX} rows; use format=arrow or parquet for bigger pages")
    try:
        pulled = flows.pull(session, request_id=request_id, consumer=consumer, cursor=cursor, limit=limit, fmt=format,
                            compression=compression)
    except service.DeliveryRefused:
        session.commit()  # the refusal's grant.decide entry is kept, then 403
        raise
    if format == "json":
        return {k: v for k, v in pulled.__dict__.items() if k not in ("body", "format", "compression")}
    return Response(content=pulled.body, media_type=MEDIA_TYPES[format], headers={
        "X-Content-SHA256": pulled.content_hash, "X-Next-Cursor": pulled.next_cursor, "X-Cursor": pulled.cursor,
        "X-Records": str(pulled.records), "X-More": "true" if pulled.more else "false",
        "X-Delivery-Id": str(pulled.delivery_id), "X-Compression": pulled.compression})


@router.post("/subscriptions", response_model=SubscriptionRead, status_code=201,
             operation_id="exchange-subscriptions-create")
def subscribe(data: SubscriptionCreate, session: DbSession, consumer: Requester) -> Any:
    subscription = flows.subscribe(session, request_id=data.request_id, consumer=consumer, channel=data.channel,
                                   file_format=data.file_format, compression=data.compression)
    return subscription_view(session, subscription)


@router.get("/subscriptions", response_model=list[SubscriptionRead], operation_id="exchange-subscriptions-list")
def list_subscriptions(session: DbSession, viewer: Reader) -> Any:
    return [subscription_view(session, s) for s in flows.list_subscriptions(session, viewer=viewer)]


@router.post("/subscriptions/{subscription_id}/run", response_model=RunResult, operation_id="exchange-subscriptions-run")
def run_subscription(
    subscription_id: RowId, session: DbSession, consumer: Requester,
    format: Annotated[FileFormat | None, Query(
        description="file subscriptions: parquet | arrow (default: the subscription's file_format, else parquet)")] = None,
    compression: Annotated[Compression | None, Query(
        description=f"file subscriptions (default: the subscription's compression when format is not given); {CODECS}")] = None,
) -> Any:
    subscription = flows.get_subscription(session, subscription_id=subscription_id, viewer=consumer)
    return flows.run_subscription(session, subscription=subscription, fmt=format, compression=compression)


@router.get("/deliveries", response_model=Page[DeliveryRead], operation_id="exchange-deliveries-list")
def list_deliveries(session: DbSession, page: Pagination, viewer: Reader,
                    request_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Any:
    items, total = service.list_deliveries(session, viewer=viewer, page=page, request_id=request_id)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/verify", response_model=Proof, operation_id="exchange-verify")
def verify(data: VerifyRequest, session: DbSession, _: Reader) -> Any:
    return service.verify(session, content_hash=data.content_hash)


@router.get("/stats", response_model=ExchangeStats, operation_id="exchange-stats")
def stats(session: DbSession, _: Reader, days: Annotated[int, Query(ge=1, le=366)] = 30) -> Any:
    return exchange_stats(session, days=days)
