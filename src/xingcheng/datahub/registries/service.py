"""Reads of the population and legal-entity registries, and per-district counts for the cockpit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, inspect, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden, NotFound
from xingcheng.core.grants.policy import AccessDecision
from xingcheng.core.grants.service import can_read
from xingcheng.core.identity.models import Division
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries import sources
from xingcheng.datahub.registries.models import LegalEntity, Person
from xingcheng.datahub.registries.schemas import DistrictCount, LegalEntityRead, PersonRead

_PERSONS = "xc_persons_by_id_number"


def get_person(session: Session, *, id_number: str) -> Person | None:
    """The resident with this ID number. Found ones are remembered for the unit of work: one application
    reads its applicant in several steps (material planning, the workflow's identity check), and the row is
    the same object of the session's identity map every time."""
    known: dict[str, Person] = session.info.setdefault(_PERSONS, {})
    person = known.get(id_number)
    if person is not None:
        state = inspect(person)
        # Trusted only while loaded and unchanged in this transaction (a rollback expires it; a delete
        # or a new ID number makes it someone else's answer).
        if state.persistent and not state.expired and person.id_number == id_number:
            return person
    person = session.scalar(select(Person).where(Person.id_number == id_number))
    if person is None:
        known.pop(id_number, None)
    else:
        known[id_number] = person
    return person


def get_person_or_raise(session: Session, *, id_number: str) -> Person:
    person = get_person(session, id_number=id_number)
    if person is None:
        raise NotFound("no person with this ID number in the population registry")
    return person


def list_persons(
    session: Session, *, reader: Principal, page: PageParams, division_code: str | None = None, name: str | None = None
) -> tuple[list[Person], int]:
    """A page of residents; every read of the population registry is audited."""
    statement: Select[Person] = select(Person).order_by(Person.id)
    if division_code:
        statement = statement.where(Person.division_code == division_code)
    if name:
        statement = statement.where(Person.name.contains(name))
    persons, total = paginate(session, statement, page)
    audit.record(
        session, actor=reader, action="registries.person.list", subject="registry:person", result="masked",
        details={"division_code": division_code, "name": name, "offset": page.offset, "returned": len(persons)},
    )
    return persons, total


def read_own_person(session: Session, *, reader: Principal) -> Person:
    """The caller's own population record (a citizen account linked by ID number)."""
    if not reader.id_number:
        raise Forbidden("only a citizen account linked to an ID number has a person record")
    person = get_person_or_raise(session, id_number=reader.id_number)
    audit.record(session, actor=reader, action="registries.person.read_own", subject=f"person:{person.id}")
    return person


def get_legal_entity(session: Session, *, credit_code: str) -> LegalEntity | None:
    return session.scalar(select(LegalEntity).where(LegalEntity.credit_code == credit_code))


def get_legal_entity_or_raise(session: Session, *, credit_code: str) -> LegalEntity:
    entity = get_legal_entity(session, credit_code=credit_code)
    if entity is None:
        raise NotFound(f"no legal entity with credit code {credit_code}")
    return entity


def list_legal_entities(
    session: Session, *, page: PageParams, division_code: str | None = None, industry_code: str | None = None,
    q: str | None = None,
) -> tuple[list[LegalEntity], int]:
    statement: Select[LegalEntity] = select(LegalEntity).order_by(LegalEntity.id)
    if division_code:
        statement = statement.where(LegalEntity.division_code == division_code)
    if industry_code:
        statement = statement.where(LegalEntity.industry_code.startswith(industry_code))
    if q:
        statement = statement.where(or_(LegalEntity.name.contains(q), LegalEntity.credit_code == q.upper()))
    return paginate(session, statement, page)


def count_by_district(session: Session) -> list[DistrictCount]:
    """Residents and legal entities per county-level division, every division listed."""
    persons = dict(session.execute(select(Person.division_code, func.count()).group_by(Person.division_code)).all())
    entities = dict(
        session.execute(select(LegalEntity.division_code, func.count()).group_by(LegalEntity.division_code)).all()
    )
    divisions = session.scalars(select(Division).where(Division.level == "county").order_by(Division.code)).all()
    return [
        DistrictCount(division_code=d.code, name=d.name, persons=persons.get(d.code, 0), legal_entities=entities.get(d.code, 0))
        for d in divisions
    ]


def count_persons(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Person)) or 0)


def count_legal_entities(session: Session, *, active_only: bool = False) -> int:
    statement = select(func.count()).select_from(LegalEntity)
    if active_only:
        statement = statement.where(LegalEntity.status == "active")
    return int(session.scalar(statement) or 0)


# ---- graded reads (grants decide per field) ----------------------------------------------------------------

class RegistryReadDenied(Forbidden):
    """The grant check refused the read; the route commits the ``grant.decide`` entry before answering 403."""


PERSON_COLUMNS = tuple(PersonRead.model_fields)
ENTITY_COLUMNS = tuple(LegalEntityRead.model_fields)


def _graded_page(
    session: Session, *, registry_name: str, reader: Principal, purpose: str, statement: Select[Any], page: PageParams,
    columns: tuple[str, ...], filters: dict[str, Any],
) -> tuple[list[dict[str, Any]], int, AccessDecision]:
    decision = can_read(session, reader, sources.descriptor(registry_name, with_purpose=bool(purpose.strip())), purpose)
    if not decision.allowed:
        raise RegistryReadDenied(decision.reason)
    for name, value in filters.items():  # a filter on a field the reader may not see would be an oracle
        if value and decision.treatment(name).action != "clear":
            action = decision.treatment(name).action
            raise RegistryReadDenied(f"filtering by {name} needs it in clear; this read gets it {action}")
    records, total = paginate(session, statement, page)
    rows = [decision.apply({c: getattr(r, c) for c in columns}) for r in records]
    treatments = {c: decision.treatment(c).action for c in columns}
    verb = "registries.person.list" if registry_name == "person" else "registries.legal_entity.list"
    audit.record(session, actor=reader, action=verb,
                 subject=sources.RESOURCE_KEYS[registry_name], purpose=decision.purpose or None, result=decision.basis,
                 details={**{k: v for k, v in filters.items() if k != "name"}, "name_filter": bool(filters.get("name")),
                          "offset": page.offset, "returned": len(rows),
                          "withheld": sorted(c for c, t in treatments.items() if t == "withheld"),
                          "masked": sorted(c for c, t in treatments.items() if t == "masked")})
    return rows, total, decision


def read_persons(
    session: Session, *, reader: Principal, page: PageParams, purpose: str = "", division_code: str | None = None,
    name: str | None = None,
) -> tuple[list[dict[str, Any]], int, AccessDecision]:
    """A page of residents as the grade rules let ``reader`` see them.

    Without a purpose only the L1/L2 view is asked for (any staff); with one, the owner (公安局) reads in
    clear and other departments read what their grants for ``registry:person`` and that purpose cover.
    """
    statement: Select[Any] = select(Person).order_by(Person.id)
    if division_code:
        statement = statement.where(Person.division_code == division_code)
    if name:
        statement = statement.where(Person.name.contains(name))
    return _graded_page(session, registry_name="person", reader=reader, purpose=purpose, statement=statement, page=page,
                        columns=PERSON_COLUMNS, filters={"division_code": division_code, "name": name})


def read_legal_entities(
    session: Session, *, reader: Principal, page: PageParams, purpose: str = "", division_code: str | None = None,
    industry_code: str | None = None, q: str | None = None,
) -> tuple[list[dict[str, Any]], int, AccessDecision]:
    statement: Select[Any] = select(LegalEntity).order_by(LegalEntity.id)
    if division_code:
        statement = statement.where(LegalEntity.division_code == division_code)
    if industry_code:
        statement = statement.where(LegalEntity.industry_code.startswith(industry_code))
    if q:
        statement = statement.where(or_(LegalEntity.name.contains(q), LegalEntity.credit_code == q.upper()))
    return _graded_page(session, registry_name="legal_entity", reader=reader, purpose=purpose, statement=statement,
                        page=page, columns=ENTITY_COLUMNS,
                        filters={"division_code": division_code, "industry_code": industry_code})
