"""Registry reads: staff see masked records; citizens and enterprises see their own in full."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, require
from xingcheng.core.errors import Forbidden, NotFound
from xingcheng.core.masking import mask
from xingcheng.core.schemas import Page
from xingcheng.datahub.registries import licences, service, sources, spatial
from xingcheng.datahub.registries.models import CorrectionRequest, FieldClaim, Licence
from xingcheng.datahub.registries.schemas import (
    NO_CONTROL,
    AddressRead,
    ClaimDecision,
    ClaimRead,
    CorrectionDecision,
    CorrectionRead,
    DistrictCount,
    DivisionRead,
    FieldOwnerRead,
    GeocodeRead,
    GradedPage,
    LegalEntityRead,
    LicenceIssue,
    LicenceRead,
    LicenceRevoke,
    LicenceVerification,
    LocateResult,
    PersonRead,
    RegistryUpdate,
    SigningKeyRead,
    UpdateOutcomeRead,
)

router = APIRouter(prefix="/api/v1/registries", tags=["registries"])

Purpose = Annotated[str, Query(max_length=100, pattern=NO_CONTROL,
                               description="why you read: needed for L3/L4 fields (e.g. 政务服务办理)")]


def _graded(session: Session, read: Any) -> Any:
    try:
        items, total, decision = read()
    except service.RegistryReadDenied:
        session.commit()  # a refusal is audited too: keep its grant.decide entry, then answer 403
        raise
    return {"items": items, "total": total, "purpose": decision.purpose, "basis": decision.basis,
            "fields": {n: t.action for n, t in decision.fields.items()}}


@router.get("/persons", response_model=GradedPage, operation_id="registries-persons-list")
def list_persons(
    session: DbSession, page: Pagination, reader: Annotated[Principal, Depends(require("registries:read"))],
    purpose: Purpose = "", division_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=32, pattern=NO_CONTROL)] = None,
) -> Any:
    result = _graded(session, lambda: service.read_persons(session, reader=reader, page=page, purpose=purpose,
                                                           division_code=division_code, name=name))
    return {**result, "limit": page.limit, "offset": page.offset}


@router.get("/persons/me", response_model=PersonRead, operation_id="registries-persons-me")
def my_person_record(session: DbSession, principal: CurrentPrincipal) -> Any:
    return service.read_own_person(session, reader=principal)


@router.get("/legal-entities", response_model=GradedPage, operation_id="registries-legal-entities-list")
def list_legal_entities(
    session: DbSession, page: Pagination, reader: Annotated[Principal, Depends(require("registries:read"))],
    purpose: Purpose = "", division_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    industry_code: Annotated[str | None, Query(pattern=r"^[A-Z]\d{0,4}$")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=64, pattern=NO_CONTROL)] = None,
) -> Any:
    result = _graded(session, lambda: service.read_legal_entities(
        session, reader=reader, page=page, purpose=purpose, division_code=division_code, industry_code=industry_code, q=q))
    return {**result, "limit": page.limit, "offset": page.offset}


@router.get("/legal-entities/me", response_model=LegalEntityRead, operation_id="registries-legal-entities-me")
def my_legal_entity(session: DbSession, principal: CurrentPrincipal) -> Any:
    if not principal.credit_code:
        raise Forbidden("only an enterprise account linked to a credit code has a legal-entity record")
    return service.get_legal_entity_or_raise(session, credit_code=principal.credit_code)


@router.get("/stats/districts", response_model=list[DistrictCount], operation_id="registries-district-counts")
def district_counts(session: DbSession, _: Annotated[Principal, Depends(require("cockpit:read"))]) -> Any:
    return service.count_by_district(session)


# ---- e-licences ----------------------------------------------------------------------------------
# The public router needs no login: anyone shown a licence may check it is genuine (masked holder only).

public_router = APIRouter(prefix="/api/v1/registries", tags=["registries"])

LicenceNumber = Annotated[str, Path(min_length=8, max_length=40, pattern=r"^[0-9A-Za-z-]+$",
                                    description="licence number, e.g. YYZZ-2026-7K3M9QX2DF5")]
DivisionPath = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 code, e.g. 430104")]


def licence_read(licence: Licence, *, masked: bool) -> LicenceRead:
    read = LicenceRead.model_validate({**{c: getattr(licence, c) for c in LicenceRead.model_fields if c != "state"},
                                       "state": licences.state(licence)})
    if not masked:
        return read
    return read.model_copy(update={
        "holder_id": mask("id_number", read.holder_id),
        "holder_name": mask("name", read.holder_name) if read.holder_kind == "person" else read.holder_name,
        "data": {},
    })


@public_router.get("/licences/{number}/verify", response_model=LicenceVerification,
                   operation_id="registries-licences-verify")
def verify_licence(session: DbSession, number: LicenceNumber) -> Any:
    return licences.verify_licence(session, number)


@public_router.get("/licence-keys", response_model=list[SigningKeyRead], operation_id="registries-licence-keys")
def licence_keys(session: DbSession) -> Any:
    return licences.signing_keys(session)


@router.get("/licences", response_model=Page[LicenceRead], operation_id="registries-licences-list")
def list_licences(
    session: DbSession, page: Pagination, reader: Annotated[Principal, Depends(require("registries:read"))],
    holder_id: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{18}$")] = None,
    licence_type: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,31}$")] = None,
    department: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    status: Annotated[str | None, Query(pattern=r"^(valid|expired|revoked)$")] = None,
) -> Any:
    items, total = licences.list_licences(session, reader=reader, page=page, holder_id=holder_id,
                                          licence_type=licence_type, department=department, status=status)
    return {"items": [licence_read(i, masked=not licences.sees_in_clear(reader, i)) for i in items],
            "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/licences/me", response_model=list[LicenceRead], operation_id="registries-licences-mine")
def my_licences(session: DbSession, principal: CurrentPrincipal) -> Any:
    return [licence_read(i, masked=False) for i in licences.read_own_licences(session, reader=principal)]


@router.post("/licences", response_model=LicenceRead, status_code=201, operation_id="registries-licences-issue")
def issue_licence(
    session: DbSession, body: LicenceIssue, actor: Annotated[Principal, Depends(require("licences:issue"))],
) -> Any:
    licence = licences.issue_licence(session, actor=actor, **body.model_dump())
    return licence_read(licence, masked=False)


@router.get("/licences/{number}", response_model=LicenceRead, operation_id="registries-licences-get")
def get_licence(session: DbSession, number: LicenceNumber, principal: CurrentPrincipal) -> Any:
    licence = licences.read_licence(session, number=number, reader=principal)
    return licence_read(licence, masked=not licences.sees_in_clear(principal, licence))


@router.post("/licences/{number}/revoke", response_model=LicenceRead, operation_id="registries-licences-revoke")
def revoke_licence(
    session: DbSession, number: LicenceNumber, body: LicenceRevoke,
    actor: Annotated[Principal, Depends(require("licences:issue"))],
) -> Any:
    return licence_read(licences.revoke_licence(session, number=number, reason=body.reason, actor=actor), masked=False)


# ---- spatial ------------------------------------------------------------------------------------------

@public_router.get("/divisions", response_model=list[DivisionRead], operation_id="registries-divisions-list")
def list_divisions() -> Any:
    return [DivisionRead(code=s.code, name=s.name, center=list(s.center), bbox=list(s.bbox))
            for s in spatial.district_shapes()]


@public_router.get("/divisions/locate", response_model=LocateResult, operation_id="registries-divisions-locate")
def locate(
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")],
) -> Any:
    code = spatial.division_at(lon, lat)
    shape = spatial.district_shape(code) if code else None
    return LocateResult(lon=lon, lat=lat, division_code=code, division_name=shape.name if shape else None)


@public_router.get("/divisions/{code}/boundary", operation_id="registries-divisions-boundary",
                   responses={200: {"content": {"application/geo+json": {}}, "description": "a GeoJSON Feature"}})
def division_boundary(code: DivisionPath) -> Response:
    feature = spatial.district_feature(code)
    if feature is None:
        raise NotFound(f"no district boundary for division {code}")
    return Response(json.dumps(feature, ensure_ascii=False, separators=(",", ":")), media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/addresses", response_model=Page[AddressRead], operation_id="registries-addresses-list")
def list_addresses(
    session: DbSession, page: Pagination, _: Annotated[Principal, Depends(require("registries:read"))],
    division_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    street: Annotated[str | None, Query(min_length=1, max_length=32, pattern=NO_CONTROL)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_CONTROL)] = None,
) -> Any:
    items, total = spatial.list_addresses(session, limit=page.limit, offset=page.offset, division_code=division_code,
                                          street=street, q=q)
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/geocode", response_model=GeocodeRead, operation_id="registries-geocode")
def geocode(
    session: DbSession, _: CurrentPrincipal, q: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_CONTROL)],
) -> Any:
    match = spatial.geocode(q, session=session)
    if match is None:
        raise NotFound("the address matches no Changsha district, street or road")
    return GeocodeRead.model_validate(match)


# ---- 一数一源 and 多源校核 ------------------------------------------------------------------------------

def claim_read(session: Session, claim: FieldClaim, *, with_evidence: bool) -> ClaimRead:
    values = {name: getattr(claim, name) for name in ClaimRead.model_fields if name != "evidence"}
    values["value"], values["authority_value"] = sources.decode(claim.value), sources.decode(claim.authority_value)
    values["record_key"] = mask("id_number", claim.record_key) if claim.registry_name == "person" else claim.record_key
    if with_evidence:
        values["evidence"] = sources.evidence(session, claim)
    return ClaimRead.model_validate(values)


def correction_read(correction: CorrectionRequest) -> CorrectionRead:
    values = {name: getattr(correction, name) for name in CorrectionRead.model_fields}
    values["proposed_value"] = sources.decode(correction.proposed_value)
    return CorrectionRead.model_validate(values)


@router.get("/field-owners", response_model=list[FieldOwnerRead], operation_id="registries-field-owners")
def field_owners(session: DbSession, _: Annotated[Principal, Depends(require("registries:read"))]) -> Any:
    return sources.list_field_owners(session)


@router.post("/updates", response_model=list[UpdateOutcomeRead], operation_id="registries-updates")
def submit_update(session: DbSession, body: RegistryUpdate,
                  actor: Annotated[Principal, Depends(require("registries:claim"))]) -> Any:
    return sources.submit_update(session, registry_name=body.registry_name, record_key=body.record_key,
                                 changes=body.changes, source=body.source, actor=actor, observed_at=body.observed_at)


@router.get("/claims", response_model=Page[ClaimRead], operation_id="registries-claims-list")
def list_claims(
    session: DbSession, page: Pagination, _: Annotated[Principal, Depends(require("registries:write"))],
    status: Annotated[str | None, Query(pattern=r"^(agrees|conflict|no_record|accepted|rejected|superseded)$")] = "conflict",
    registry_name: Annotated[str | None, Query(pattern=r"^(person|legal_entity)$")] = None,
    field: Annotated[str | None, Query(pattern=r"^[a-z_]{1,64}$")] = None,
    department: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> Any:
    items, total = sources.list_claims(session, page=page, status=status, registry_name=registry_name, field=field,
                                       department=department)
    return {"items": [claim_read(session, c, with_evidence=True) for c in items], "total": total,
            "limit": page.limit, "offset": page.offset}


@router.post("/claims/verify", response_model=dict[str, int], operation_id="registries-claims-verify")
def verify_claims(session: DbSession, actor: Annotated[Principal, Depends(require("registries:write"))]) -> Any:
    return sources.verify_claims(session, actor=actor)


@router.post("/claims/{claim_id}/resolve", response_model=ClaimRead, operation_id="registries-claims-resolve")
def resolve_claim(
    session: DbSession, claim_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: ClaimDecision,
    actor: Annotated[Principal, Depends(require("registries:write"))],
) -> Any:
    claim, _correction = sources.resolve_claim(session, claim_id=claim_id, decision=body.decision, note=body.note,
                                               actor=actor)
    return claim_read(session, claim, with_evidence=False)


@router.get("/corrections", response_model=Page[CorrectionRead], operation_id="registries-corrections-list")
def list_corrections(
    session: DbSession, page: Pagination, reader: Annotated[Principal, Depends(require("registries:claim"))],
    status: Annotated[str | None, Query(pattern=r"^(open|applied|declined)$")] = "open",
) -> Any:
    department = None if reader.has("registries:write") else reader.department_code or "-"
    items, total = sources.list_corrections(session, page=page, department=department, status=status)
    return {"items": [correction_read(c) for c in items], "total": total, "limit": page.limit, "offset": page.offset}


@router.post("/corrections/{correction_id}/decide", response_model=CorrectionRead,
             operation_id="registries-corrections-decide")
def decide_correction(
    session: DbSession, correction_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: CorrectionDecision,
    actor: Annotated[Principal, Depends(require("registries:claim"))],
) -> Any:
    return correction_read(sources.decide_correction(session, correction_id=correction_id, apply=body.apply,
                                                     note=body.note, actor=actor))
