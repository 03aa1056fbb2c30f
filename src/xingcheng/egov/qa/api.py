"""Q&A routes. Asking, giving feedback and reading the FAQ are PUBLIC: citizens use the finder on
the portal before any login (as on the city's 12345/一网通办 bot). The question log, the unanswered
list and FAQ edits need a login and ``qa:manage``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, RowId, reads_first, require
from xingcheng.egov.qa import service
from xingcheng.egov.qa.schemas import (
    AskRequest,
    AskResponse,
    FaqCreate,
    FaqPage,
    FaqRead,
    FaqUpdate,
    FeedbackRequest,
    QaStats,
    QuestionPage,
    QuestionRead,
)
from xingcheng.egov.services.schemas import ITEM_CODE_PATTERN

public_router = APIRouter(prefix="/api/v1/qa", tags=["qa"])
router = APIRouter(prefix="/api/v1/qa", tags=["qa"])
Manager = Annotated[Principal, Depends(require("qa:manage"))]


@public_router.post("/ask", response_model=AskResponse, operation_id="qa-ask")
@reads_first
def ask(session: DbSession, data: AskRequest) -> Any:
    return service.ask(session, question=data.question, channel=data.channel, limit=data.limit)


@public_router.post("/questions/{question_id}/feedback", response_model=QuestionRead, operation_id="qa-feedback")
def feedback(session: DbSession, question_id: RowId, data: FeedbackRequest) -> Any:
    logged = service.feedback(session, question_id=question_id, token=data.token,
                              clicked_item_code=data.clicked_item_code, helpful=data.helpful)
    return service.question_read(logged)


@public_router.get("/faq", response_model=FaqPage, operation_id="qa-faq-list")
def list_faq(
    session: DbSession, page: Pagination,
    item_code: Annotated[str | None, Query(pattern=ITEM_CODE_PATTERN, max_length=32)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$")] = None,
) -> Any:
    items, total = service.list_faq(session, page=page, item_code=item_code, q=q)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/questions", response_model=QuestionPage, operation_id="qa-questions-list")
def list_questions(
    session: DbSession, page: Pagination, _: Manager,
    unanswered: Annotated[bool, Query(description="only questions without a confident or helpful answer")] = False,
) -> Any:
    items, total = service.list_questions(session, page=page, unanswered=unanswered)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/stats", response_model=QaStats, operation_id="qa-stats")
def stats(session: DbSession, _: Manager) -> Any:
    return service.stats(session)


@router.post("/faq", response_model=FaqRead, status_code=201, operation_id="qa-faq-create")
def create_faq(session: DbSession, data: FaqCreate, editor: Manager) -> Any:
    pair = service.create_faq(session, data=data, editor=editor)
    return service.faq_read(pair, service.item_names(session, [pair.item_code]))


@router.patch("/faq/{faq_id}", response_model=FaqRead, operation_id="qa-faq-update")
def update_faq(session: DbSession, faq_id: RowId, data: FaqUpdate, editor: Manager) -> Any:
    pair = service.update_faq(session, faq_id=faq_id, data=data, editor=editor)
    return service.faq_read(pair, service.item_names(session, [pair.item_code]))


@router.delete("/faq/{faq_id}", status_code=204, operation_id="qa-faq-delete")
def delete_faq(session: DbSession, faq_id: RowId, editor: Manager) -> Response:
    service.delete_faq(session, faq_id=faq_id, editor=editor)
    return Response(status_code=204)
