"""Workflow routes: definitions, instances with timeline, the department inbox, DMN decisions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, UploadFile

from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.deps import DbSession, Pagination, RowId, require
from xingcheng.core.errors import Invalid, PayloadTooLarge
from xingcheng.core.masking import mask
from xingcheng.core.schemas import Page
from xingcheng.workflow import inbox, service
from xingcheng.workflow.models import WorkflowInstance, WorkflowTask
from xingcheng.workflow.schemas import (
    DecisionEvaluate,
    DecisionResult,
    DefinitionDeploy,
    DefinitionRead,
    InstanceDetail,
    InstanceRead,
    InstanceStart,
    TaskClaim,
    TaskComplete,
    TaskRead,
    TimelineEntry,
)

router = APIRouter(prefix="/api/v1/workflow", tags=["workflow"])

Reader = Annotated[Principal, Depends(require("workflow:read"))]
Admin = Annotated[Principal, Depends(require("workflow:admin"))]
Clerk = Annotated[Principal, Depends(require("workflow:task"))]
MAX_UPLOAD = 1_000_000
# Variables that hold personal identifiers are masked on the way out (the engine keeps them whole).
MASKED_VARIABLES = {"id_number": "id_number", "phone": "phone", "name": "name"}


def _instance(instance: WorkflowInstance) -> dict[str, Any]:
    read = InstanceRead.model_validate(instance).model_dump()
    read["variables"] = {k: mask(MASKED_VARIABLES[k], v) if k in MASKED_VARIABLES and isinstance(v, str) else v
                         for k, v in instance.variables.items()}
    return read


def _task(task: WorkflowTask) -> TaskRead:
    return TaskRead.model_validate(task).model_copy(update={"seconds_left": inbox.seconds_left(task, utcnow())})


@router.get("/definitions", response_model=Page[DefinitionRead], operation_id="workflow-definitions-list")
def list_definitions(session: DbSession, page: Pagination, _: Reader,
                     kind: Literal["bpmn", "dmn"] | None = None, key: str | None = None) -> Any:
    items, total = service.list_definitions(session, page=page, kind=kind, key=key)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/definitions", response_model=DefinitionRead, status_code=201, operation_id="workflow-definitions-deploy")
def deploy_definition(body: DefinitionDeploy, session: DbSession, admin: Admin) -> Any:
    """Deploy BPMN 2.0 or DMN XML as the next version of its process/decision id (validated first)."""
    return service.deploy(session, content=body.content, actor=admin)


@router.post("/definitions/upload", response_model=DefinitionRead, status_code=201,
             operation_id="workflow-definitions-upload")
def upload_definition(file: Annotated[UploadFile, File(description=".bpmn or .dmn file")], session: DbSession,
                      admin: Admin) -> Any:
    raw = file.file.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise PayloadTooLarge(f"a definition file is at most {MAX_UPLOAD} bytes")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text") from None
    if not content.strip():
        raise Invalid("the file is empty")
    return service.deploy(session, content=content, actor=admin)


@router.get("/instances", response_model=Page[InstanceRead], operation_id="workflow-instances-list")
def list_instances(session: DbSession, page: Pagination, _: Reader,
                   status: Literal["running", "completed", "cancelled"] | None = None, process_key: str | None = None) -> Any:
    items, total = service.list_instances(session, page=page, status=status, process_key=process_key)
    return {"items": [_instance(i) for i in items], "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/instances", response_model=InstanceRead, status_code=201, operation_id="workflow-instances-start")
def start_instance(body: InstanceStart, session: DbSession, starter: Clerk) -> Any:
    instance = service.start_instance(session, process_key=body.process_key, actor=starter, variables=body.variables,
                                      business_key=body.business_key)
    return _instance(instance)


@router.get("/instances/{instance_id}", response_model=InstanceDetail, operation_id="workflow-instances-get")
def get_instance(instance_id: RowId, session: DbSession, _: Reader) -> Any:
    instance = service.get_instance_or_raise(session, instance_id=instance_id)
    return {**_instance(instance),
            "tasks": [_task(t) for t in service.instance_tasks(session, instance_id=instance.id)],
            "timeline": [TimelineEntry.model_validate(e) for e in service.timeline(session, instance_id=instance.id)]}


@router.get("/tasks", response_model=Page[TaskRead], operation_id="workflow-tasks-inbox")
def my_inbox(session: DbSession, page: Pagination, clerk: Clerk,
             status: Literal["open", "claimed", "waiting", "completed", "cancelled"] | None = None) -> Any:
    """My department's queue, most urgent first, with the SLA countdown in seconds."""
    items, total = inbox.list_inbox(session, principal=clerk, page=page, status=status)
    return {"items": [_task(t) for t in items], "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/tasks/{task_id}/claim", response_model=TaskRead, operation_id="workflow-tasks-claim")
def claim_task(task_id: RowId, session: DbSession, clerk: Clerk, body: TaskClaim | None = None) -> Any:
    return _task(inbox.claim_task(session, task_id=task_id, principal=clerk, version=body.version if body else None))


@router.post("/tasks/{task_id}/complete", response_model=TaskRead, operation_id="workflow-tasks-complete")
def complete_task(task_id: RowId, body: TaskComplete, session: DbSession, clerk: Clerk) -> Any:
    return _task(inbox.complete_task(session, task_id=task_id, principal=clerk, variables=body.variables,
                                     version=body.version))


@router.post("/decisions/{key}/evaluate", response_model=DecisionResult, operation_id="workflow-decisions-evaluate")
def evaluate_decision(key: str, body: DecisionEvaluate, session: DbSession, reader: Reader) -> Any:
    """Evaluate the latest version of a DMN table: the result, and the rule that matched (the reason)."""
    return service.evaluate_decision(session, key=key, inputs=body.inputs, actor=reader)
