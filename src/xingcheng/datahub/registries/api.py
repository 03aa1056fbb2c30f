"""Registry reads: staff see masked records; citizens and enterprises see their own in full."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from xingcheng.core.auth import Principal
from xingcheng.core.deps import CurrentPrincipal, DbSession, Pagination, require
from xingcheng.core.errors import Forbidden
from xingcheng.core.masking import mask
from xingcheng.core.schemas import Page
from xingcheng.datahub.registries import service
from xingcheng.datahub.registries.models import LegalEntity, Person
from xingcheng.datahub.registries.schemas import DistrictCount, LegalEntityRead, PersonRead

router = APIRouter(prefix="/api/v1/registries", tags=["registries"])

PERSON_FIELD_KINDS = {"id_number": "id_number", "name": "name", "phone": "phone",
                      "household_address": "address", "residence_address": "address"}


def masked_person(person: Person) -> PersonRead:
    # Until grade-based grants decide per field, staff list views show personal fields masked.
    read = PersonRead.model_validate(person)
    return read.model_copy(update={f: mask(kind, getattr(read, f)) for f, kind in PERSON_FIELD_KINDS.items()})


def masked_entity(entity: LegalEntity) -> LegalEntityRead:
    read = LegalEntityRead.model_validate(entity)
    return read.model_copy(update={"legal_representative_id_number": mask("id_number", read.legal_representative_id_number)})


@router.get("/persons", response_model=Page[PersonRead], operation_id="registries-persons-list")
def list_persons(
    session: DbSession, page: Pagination, reader: Annotated[Principal, Depends(require("registries:read"))],
    division_code: str | None = None, name: str | None = None,
) -> Any:
    items, total = service.list_persons(session, reader=reader, page=page, division_code=division_code, name=name)
    return {"items": [masked_person(p) for p in items], "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/persons/me", response_model=PersonRead, operation_id="registries-persons-me")
def my_person_record(session: DbSession, principal: CurrentPrincipal) -> Any:
    return service.read_own_person(session, reader=principal)


@router.get("/legal-entities", response_model=Page[LegalEntityRead], operation_id="registries-legal-entities-list")
def list_legal_entities(
    session: DbSession, page: Pagination, _: Annotated[Principal, Depends(require("registries:read"))],
    division_code: str | None = None, industry_code: str | None = None, q: str | None = None,
) -> Any:
    items, total = service.list_legal_entities(
        session, page=page, division_code=division_code, industry_code=industry_code, q=q
    )
    return {"items": [masked_entity(e) for e in items], "total": total, "limit": page.limit, "offset": page.offset}


@router.get("/legal-entities/me", response_model=LegalEntityRead, operation_id="registries-legal-entities-me")
def my_legal_entity(session: DbSession, principal: CurrentPrincipal) -> Any:
    if not principal.credit_code:
        raise Forbidden("only an enterprise account linked to a credit code has a legal-entity record")
    return service.get_legal_entity_or_raise(session, credit_code=principal.credit_code)


@router.get("/stats/districts", response_model=list[DistrictCount], operation_id="registries-district-counts")
def district_counts(session: DbSession, _: Annotated[Principal, Depends(require("cockpit:read"))]) -> Any:
    return service.count_by_district(session)
