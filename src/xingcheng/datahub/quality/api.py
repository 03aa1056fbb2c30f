"""Quality reports over HTTP: newest per subject, history, defects, a run, detection against labels."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, require
from xingcheng.core.errors import NotFound
from xingcheng.core.schemas import Page
from xingcheng.datahub.quality import service
from xingcheng.datahub.quality.schemas import DefectRead, DetectionRead, ReportRead, RunRequest

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])
Reader = Annotated[Principal, Depends(require("quality:read"))]
Subject = Annotated[str, Query(min_length=3, max_length=160, pattern=r"^(registry|dataset):[\w/-]+$",
                               description="registry:person, registry:legal_entity or dataset:<owner>/<name>")]


@router.get("/reports", response_model=list[ReportRead], operation_id="quality-reports-latest")
def latest(session: DbSession, _: Reader,
           kind: Annotated[str | None, Query(pattern=r"^(registry|dataset)$")] = None) -> Any:
    return service.latest_reports(session, kind=kind)


@router.get("/reports/history", response_model=list[ReportRead], operation_id="quality-reports-history")
def report_history(session: DbSession, _: Reader, subject: Subject,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
    return service.history(session, subject, limit=limit)


@router.get("/reports/{report_id}", response_model=ReportRead, operation_id="quality-reports-get")
def get_report(session: DbSession, _: Reader, report_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Any:
    return service.get_report_or_raise(session, report_id)


@router.get("/reports/{report_id}/defects", response_model=Page[DefectRead], operation_id="quality-reports-defects")
def report_defects(session: DbSession, _: Reader, page: Pagination, report_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                   rule: Annotated[str | None, Query(min_length=1, max_length=48)] = None) -> Any:
    service.get_report_or_raise(session, report_id)
    items, total = service.defects(session, report_id=report_id, page=page, rule=rule)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/reports", response_model=list[ReportRead], status_code=201, operation_id="quality-reports-run")
def run_reports(session: DbSession, body: RunRequest, actor: Annotated[Principal, Depends(require("quality:run"))]) -> Any:
    return service.run(session, actor=actor, subjects=body.subjects or None, datasets=False)


@router.get("/detection", response_model=DetectionRead, operation_id="quality-detection")
def detection(session: DbSession, _: Reader) -> Any:
    result = service.detection(session)
    if not result["labelled"]:
        raise NotFound("no labelled defects: detection is measured on the demo city, whose generator labels them")
    return result
