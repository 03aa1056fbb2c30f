"""Application routes: the applicant's (form, submit with Idempotency-Key, 补正, withdraw, rate, uploads), the
clerk's (department inbox with applications, decisions) and the public KPI figures."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Header, Path, Query, Response, UploadFile

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, commit_and_answer, require
from xingcheng.core.errors import Forbidden, PayloadTooLarge
from xingcheng.core.masking import mask
from xingcheng.core.schemas import Page
from xingcheng.egov.applications import kpis, service, staff, uploads
from xingcheng.egov.applications.forms import fields_for
from xingcheng.egov.applications.models import Application
from xingcheng.egov.applications.schemas import (
    ITEM_CODE_PATTERN,
    NUMBER_PATTERN,
    ApplicationDetail,
    ApplicationForm,
    ApplicationKpis,
    ApplicationRead,
    ApplicationSubmit,
    CorrectionSubmit,
    Decision,
    InboxEntry,
    RatingIn,
    UploadRead,
    Withdraw,
)

router = APIRouter(prefix="/api/v1/applications", tags=["applications"])
public_router = APIRouter(prefix="/api/v1/applications", tags=["applications"])

Applicant = Annotated[Principal, Depends(require("applications:apply"))]
Clerk = Annotated[Principal, Depends(require("workflow:task"))]
Number = Annotated[str, Path(pattern=NUMBER_PATTERN, max_length=24, description="办件编号, e.g. XC20261125-1A2B3C4D")]
ItemCode = Annotated[str, Path(pattern=ITEM_CODE_PATTERN, max_length=32)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64,
                                              pattern=r"^[\x21-\x7e]+$",
                                              description="same key + same body → the same application")]
Status = Literal["submitted", "in_review", "correction_requested", "approved", "rejected", "withdrawn"]
ID_FIELDS = {f.name for process in ("generic", "enterprise-start") for f in fields_for(process) if f.kind == "id_number"}


def _detail(session: DbSession, application: Application) -> dict[str, Any]:
    return {
        **ApplicationRead.model_validate(application).model_dump(),
        "form": {k: mask("id_number", v) if k in ID_FIELDS and isinstance(v, str) else v
                 for k, v in application.form.items()},
        "materials": application.materials,
        "timeline": service.timeline(session, application=application),
        "tasks": service.tasks_of(session, application=application),
        "rating": service.rating_of(session, application=application),
    }


@public_router.get("/kpis", response_model=ApplicationKpis, operation_id="applications-kpis")
def get_kpis(session: DbSession) -> Any:
    """Service KPIs computed from the application records (aggregates only: public, like the city publishes them)."""
    return kpis.compute(session)


@router.get("/forms/{code}", response_model=ApplicationForm, operation_id="applications-form")
def get_form(code: ItemCode, session: DbSession, applicant: Applicant) -> Any:
    """The form fields and, for this applicant, which materials the city already holds (免提交)."""
    return service.form_for(session, code=code, principal=applicant)


@router.post("/uploads", response_model=UploadRead, status_code=201, operation_id="applications-upload")
def upload_material(file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or OFD, ≤ 10 MiB")],
                    session: DbSession, applicant: Applicant) -> Any:
    content = file.file.read(uploads.MAX_BYTES + 1)
    if len(content) > uploads.MAX_BYTES:
        raise PayloadTooLarge("a material is at most 10 MiB")
    return uploads.store(session, owner=applicant, file_name=file.filename or "material",
                         content_type=file.content_type or "", content=content)


@router.post("", response_model=ApplicationDetail, status_code=201, operation_id="applications-submit")
def submit(body: ApplicationSubmit, session: DbSession, applicant: Applicant,
           idempotency_key: IdempotencyKey = None) -> Response:
    """Apply online. Every problem (form fields, missing materials) is listed in one 422 problem."""
    application, replayed = service.submit(session, principal=applicant, data=body, idempotency_key=idempotency_key)
    return commit_and_answer(session, ApplicationDetail, _detail(session, application), status_code=200 if replayed
                             else 201, headers={"Idempotent-Replayed": "true"} if replayed else None)


@router.get("", response_model=Page[ApplicationRead], operation_id="applications-list")
def list_applications(session: DbSession, page: Pagination, principal: CurrentPrincipal, status: Status | None = None,
                      item_code: Annotated[str | None, Query(pattern=ITEM_CODE_PATTERN)] = None) -> Any:
    """Applicants: their own applications. Staff: their department's (city-wide staff: all)."""
    if principal.has("applications:apply"):
        items, total = service.list_mine(session, principal=principal, page=page, status=status)
    elif principal.has("applications:read"):
        items, total = service.list_for_staff(session, principal=principal, page=page, status=status, item_code=item_code)
    else:
        raise Forbidden("only applicants and service staff list applications")
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/inbox", response_model=Page[InboxEntry], operation_id="applications-inbox")
def department_inbox(session: DbSession, page: Pagination, clerk: Clerk,
                     status: Literal["open", "claimed", "waiting", "completed"] | None = None) -> Any:
    """My department's tasks with their applications, most urgent first, SLA countdown in seconds."""
    items, total = staff.inbox_entries(session, principal=clerk, page=page, status=status)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/tasks/{task_id}/decision", response_model=ApplicationDetail, operation_id="applications-decide")
def decide(task_id: RowId, body: Decision, session: DbSession, clerk: Clerk) -> Any:
    """Approve (pass this step), reject, or ask for correction (补正), with reasons; a stale version → 409."""
    application = staff.decide(session, task_id=task_id, clerk=clerk, action=body.action, reason=body.reason,
                               version=body.version)
    return commit_and_answer(session, ApplicationDetail, _detail(session, application))


@router.get("/{number}", response_model=ApplicationDetail, operation_id="applications-get")
def get_application(number: Number, session: DbSession, principal: CurrentPrincipal) -> Any:
    """One application with its materials, timeline, tasks and result licences."""
    return _detail(session, service.read(session, number=number, principal=principal))


@router.post("/{number}/withdraw", response_model=ApplicationDetail, operation_id="applications-withdraw")
def withdraw(number: Number, session: DbSession, applicant: Applicant, body: Withdraw | None = None) -> Any:
    application = service.withdraw(session, number=number, principal=applicant,
                                   reason=(body or Withdraw()).reason or "申请人主动撤回")
    return _detail(session, application)


@router.post("/{number}/correction", response_model=ApplicationDetail, operation_id="applications-correct")
def correct(number: Number, body: CorrectionSubmit, session: DbSession, applicant: Applicant) -> Any:
    """补正: send the corrected fields and materials; the application goes back to the department."""
    return _detail(session, service.resubmit(session, number=number, principal=applicant, data=body))


@router.post("/{number}/rating", status_code=201, response_model=RatingIn, operation_id="applications-rate")
def rate(number: Number, body: RatingIn, session: DbSession, applicant: Applicant) -> Any:
    """好差评: rate a finished application once (1–5, with an optional comment)."""
    rating = service.rate(session, number=number, principal=applicant, score=body.score, comment=body.comment)
    return {"score": rating.score, "comment": rating.comment}
