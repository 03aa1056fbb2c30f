"""Reads of the population and legal-entity registries, and per-district counts for the cockpit."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden, NotFound
from xingcheng.core.identity.models import Division
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries.models import LegalEntity, Person
from xingcheng.datahub.registries.schemas import DistrictCount


def get_person(session: Session, *, id_number: str) -> Person | None:
    return session.scalar(select(Person).where(Person.id_number == id_number))


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
