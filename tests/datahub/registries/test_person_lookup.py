"""``get_person`` remembers the residents it found for the unit of work: one application reads its applicant in
several steps, and only the first asks the database. A miss is not remembered, and nothing outlives the session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from xingcheng.core.ids import make_id_number
from xingcheng.datahub.registries.models import Person
from xingcheng.datahub.registries.service import get_person, get_person_or_raise


@contextmanager
def person_selects(session: Session) -> Iterator[list[str]]:
    """The SELECTs on the person table that run on this session's engine meanwhile."""
    engine = session.get_bind().engine
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sql = " ".join(statement.lower().split())
        if sql.startswith("select") and "from person" in sql:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _some_id_number(session: Session) -> str:
    return session.scalars(select(Person.id_number).order_by(Person.id).limit(1)).one()


def _unknown_id_number(session: Session, template: Person) -> str:
    for sequence in range(499, 0, -1):
        candidate = make_id_number(template.division_code, date(1931, 2, 3), sequence, "F")
        if session.scalar(select(Person.id).where(Person.id_number == candidate)) is None:
            return candidate
    raise AssertionError("no free ID number")


def _new_person(template: Person, id_number: str) -> Person:
    return Person(
        id_number=id_number, name="测试居民", gender="F", birth_date=date(1931, 2, 3), ethnicity="汉族",
        division_code=template.division_code, household_address=template.household_address,
        residence_address=template.residence_address, marital_status="widowed", education="primary",
        employment_status="retired", household_id=template.household_id,
    )


def test_two_lookups_in_one_session_ask_the_database_once(any_db: Session) -> None:
    id_number = _some_id_number(any_db)
    any_db.expunge_all()  # start from an empty identity map
    with person_selects(any_db) as selects:
        first = get_person(any_db, id_number=id_number)
        second = get_person(any_db, id_number=id_number)
        third = get_person_or_raise(any_db, id_number=id_number)
    assert first is not None and first.id_number == id_number
    assert second is first and third is first  # the same row object every time
    assert len(selects) == 1, selects


def test_different_residents_are_looked_up_each(any_db: Session) -> None:
    two = any_db.scalars(select(Person.id_number).order_by(Person.id).limit(2)).all()
    with person_selects(any_db) as selects:
        found = [get_person(any_db, id_number=n) for n in (*two, *two)]
    assert [p.id_number for p in found if p is not None] == [*two, *two]
    assert found[0] is not found[1]
    assert len(selects) == 2


def test_a_miss_is_not_remembered(any_db: Session) -> None:
    template = any_db.scalars(select(Person).order_by(Person.id).limit(1)).one()
    id_number = _unknown_id_number(any_db, template)
    with person_selects(any_db) as selects:
        assert get_person(any_db, id_number=id_number) is None
        assert get_person(any_db, id_number=id_number) is None
    assert len(selects) == 2  # each miss asks again

    newcomer = _new_person(template, id_number)
    any_db.add(newcomer)
    any_db.flush()
    assert get_person(any_db, id_number=id_number) is newcomer


def test_another_session_asks_again(any_db: Session) -> None:
    id_number = _some_id_number(any_db)
    first = get_person(any_db, id_number=id_number)
    other = Session(bind=any_db.get_bind(), expire_on_commit=False)
    try:
        with person_selects(any_db) as selects:
            theirs = get_person(other, id_number=id_number)
            again = get_person(other, id_number=id_number)
        assert theirs is not None and theirs is not first and again is theirs
        assert theirs.id == first.id  # type: ignore[union-attr]
        assert len(selects) == 1
    finally:
        other.close()


def test_a_resident_added_and_rolled_back_is_not_found_any_more(any_db: Session) -> None:
    template = any_db.scalars(select(Person).order_by(Person.id).limit(1)).one()
    id_number = _unknown_id_number(any_db, template)
    newcomer = _new_person(template, id_number)
    any_db.add(newcomer)
    any_db.flush()
    assert get_person(any_db, id_number=id_number) is newcomer
    any_db.rollback()  # the row never happened: SQLAlchemy expunges the object added in that transaction
    assert get_person(any_db, id_number=id_number) is None


def test_a_resident_read_from_a_row_that_is_rolled_back_is_not_found_any_more(any_db: Session) -> None:
    template = any_db.scalars(select(Person).order_by(Person.id).limit(1)).one()
    id_number = _unknown_id_number(any_db, template)
    any_db.add(_new_person(template, id_number))
    any_db.flush()
    any_db.expunge_all()  # e.g. written by an earlier step of the unit of work and no longer referenced
    assert get_person(any_db, id_number=id_number) is not None  # read from the row
    any_db.rollback()
    assert get_person(any_db, id_number=id_number) is None


def test_a_resident_expunged_from_the_session_is_read_afresh(any_db: Session) -> None:
    id_number = _some_id_number(any_db)
    first = get_person(any_db, id_number=id_number)
    any_db.expunge_all()
    with person_selects(any_db) as selects:
        again = get_person(any_db, id_number=id_number)
    assert again is not None and again is not first and again in any_db
    assert len(selects) == 1
