"""Policy routes: staff edit and push (``policy:manage``), read figures (``policy:read``);
an enterprise reads its own matches and pushes and says whether a push was useful."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, RowId, require
from xingcheng.core.errors import Forbidden
from xingcheng.egov.policy import matching, service
from xingcheng.egov.policy.schemas import (
    CREDIT_CODE_PATTERN,
    CampaignPage,
    CampaignRead,
    ConditionsCheck,
    ConditionsVerdict,
    EnterpriseMatches,
    FeedbackCreate,
    FieldInfo,
    Level,
    PolicyCreate,
    PolicyPage,
    PolicyPreview,
    PolicyRead,
    PolicyStats,
    PolicyUpdate,
    PushPage,
    PushRead,
    Status,
)

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

Reader = Annotated[Principal, Depends(require("policy:read"))]
Manager = Annotated[Principal, Depends(require("policy:manage"))]
CreditCode = Annotated[str, Path(pattern=CREDIT_CODE_PATTERN, description="GB 32100 unified social credit code")]


@router.get("/fields", response_model=list[FieldInfo], operation_id="policy-fields")
def fields(_principal: CurrentPrincipal) -> Any:
    return service.field_catalogue()


@router.post("/conditions/check", response_model=ConditionsVerdict, operation_id="policy-conditions-check")
def check_conditions(data: ConditionsCheck, _manager: Manager) -> Any:
    return service.check_conditions(data.conditions)


@router.get("/policies", response_model=PolicyPage, operation_id="policy-list")
def list_policies(
    session: DbSession, page: Pagination, _principal: CurrentPrincipal,
    level: Level | None = None, status: Status | None = None, no_application: bool | None = None,
    department_code: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Any:
    items, total = service.list_policies(session, page=page, level=level, status=status, no_application=no_application,
                                         department_code=department_code, q=q)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/policies", response_model=PolicyRead, status_code=201, operation_id="policy-create")
def create_policy(session: DbSession, data: PolicyCreate, editor: Manager) -> Any:
    return service.policy_view(service.create_policy(session, data=data, editor=editor))


@router.get("/policies/{policy_id}", response_model=PolicyRead, operation_id="policy-get")
def get_policy(session: DbSession, policy_id: RowId, _principal: CurrentPrincipal) -> Any:
    return service.policy_view(service.get_or_raise(session, policy_id=policy_id))


@router.patch("/policies/{policy_id}", response_model=PolicyRead, operation_id="policy-update")
def update_policy(session: DbSession, policy_id: RowId, data: PolicyUpdate, editor: Manager) -> Any:
    return service.policy_view(service.update_policy(session, policy_id=policy_id, data=data, editor=editor))


@router.get("/policies/{policy_id}/preview", response_model=PolicyPreview, operation_id="policy-preview")
def preview(
    session: DbSession, policy_id: RowId, _reader: Reader,
    division_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Any:
    policy = service.get_or_raise(session, policy_id=policy_id)
    return matching.preview(session, policy=policy, division_code=division_code)


@router.post("/policies/{policy_id}/push", response_model=CampaignRead, operation_id="policy-push")
def push(session: DbSession, policy_id: RowId, actor: Manager) -> Any:
    return service.push_policy(session, policy_id=policy_id, actor=actor)


@router.get("/campaigns", response_model=CampaignPage, operation_id="policy-campaigns")
def campaigns(
    session: DbSession, page: Pagination, _reader: Reader,
    policy_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Any:
    items, total = service.list_campaigns(session, page=page, policy_id=policy_id)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/pushes", response_model=PushPage, operation_id="policy-pushes")
def pushes(
    session: DbSession, page: Pagination, principal: CurrentPrincipal,
    policy_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    credit_code: Annotated[str | None, Query(pattern=CREDIT_CODE_PATTERN)] = None,
) -> Any:
    items, total = service.list_pushes(session, principal=principal, page=page, policy_id=policy_id,
                                       credit_code=credit_code)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/pushes/{push_id}/feedback", response_model=PushRead, operation_id="policy-push-feedback")
def feedback(session: DbSession, push_id: RowId, data: FeedbackCreate, principal: CurrentPrincipal) -> Any:
    push = service.give_feedback(session, principal=principal, push_id=push_id, useful=data.useful, note=data.note)
    return service.push_view(session, push_id=push.id)


@router.get("/me/matches", response_model=EnterpriseMatches, operation_id="policy-my-matches")
def my_matches(session: DbSession, principal: CurrentPrincipal) -> Any:
    if principal.kind != "enterprise" or not principal.credit_code:
        raise Forbidden("only an enterprise account has its own policy matches")
    return matching.matches_for(session, credit_code=principal.credit_code)


@router.get("/enterprises/{credit_code}/matches", response_model=EnterpriseMatches,
            operation_id="policy-enterprise-matches")
def enterprise_matches(session: DbSession, credit_code: CreditCode, _reader: Reader) -> Any:
    return matching.matches_for(session, credit_code=credit_code)


@router.get("/stats", response_model=PolicyStats, operation_id="policy-stats")
def stats(session: DbSession, _reader: Reader) -> Any:
    return service.stats(session)
