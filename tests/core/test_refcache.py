"""core.refcache: reference data is read once per process and ttl; a unit of work that changes it reads around
the cache and empties it when it commits (ORM changes noticed, Core changes declared); a rollback keeps it; a
snapshot read while a change committed is not stored; each database has its own entries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, String, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from xingcheng.core.db import create_db_engine
from xingcheng.core.refcache import ReferenceCache


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


def make_engine(path: Any) -> Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Item(code="A", name="婚姻登记"))
        session.commit()
    return engine


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    engine = make_engine(tmp_path / "ref.db")
    yield engine
    engine.dispose()


class Reader:
    """A cached lookup of an item's name that counts its queries."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.cache: ReferenceCache[str, str | None] = ReferenceCache("test items", watch=(Item,), ttl=ttl)
        self.queries = 0

    def name(self, session: Session, code: str) -> str | None:
        def load() -> str | None:
            self.queries += 1
            return session.scalar(select(Item.name).where(Item.code == code))

        return self.cache.get(session, code, load)


def test_read_once_then_served_from_the_cache(engine: Engine) -> None:
    reader = Reader()
    for _ in range(3):
        with Session(engine) as session:
            assert reader.name(session, "A") == "婚姻登记"
    assert reader.queries == 1


def test_an_expired_entry_is_read_again(engine: Engine) -> None:
    reader = Reader(ttl=0.0)  # another process's change must show within ttl
    for _ in range(2):
        with Session(engine) as session:
            reader.name(session, "A")
    assert reader.queries == 2


def test_an_orm_change_is_seen_by_its_unit_of_work_and_empties_the_cache_on_commit(engine: Engine) -> None:
    reader = Reader()
    with Session(engine) as session:
        reader.name(session, "A")
    with Session(engine) as session:
        item = session.get(Item, "A")
        assert item is not None
        item.name = "婚姻登记（更新）"
        assert reader.name(session, "A") == "婚姻登记（更新）"  # pending change: read around the cache
        session.commit()
    with Session(engine) as session:
        assert reader.name(session, "A") == "婚姻登记（更新）"
    assert reader.queries == 3


def test_a_core_change_is_declared_and_a_rollback_keeps_the_cache(engine: Engine) -> None:
    reader = Reader()
    with Session(engine) as session:
        reader.name(session, "A")
    with Session(engine) as session:
        reader.cache.changed(session)
        session.execute(update(Item).where(Item.code == "A").values(name="撤销"))
        assert reader.name(session, "A") == "撤销"
        session.rollback()
        assert reader.name(session, "A") == "婚姻登记"  # the change is gone; the cached value is right again
    assert reader.queries == 2
    with Session(engine) as session:
        reader.cache.changed(session)
        session.execute(update(Item).where(Item.code == "A").values(name="已改"))
        session.commit()
    with Session(engine) as session:
        assert reader.name(session, "A") == "已改"


def test_a_value_read_while_a_change_committed_is_not_stored(engine: Engine) -> None:
    cache: ReferenceCache[str, str] = ReferenceCache("race", ttl=60.0)
    with Session(engine) as session:
        def load_racing_a_commit() -> str:
            cache.clear()  # what a committing change does meanwhile
            return "old"

        assert cache.get(session, "A", load_racing_a_commit) == "old"
        assert cache.get(session, "A", lambda: "new") == "new"


def test_each_database_has_its_own_entries(engine: Engine, tmp_path: Any) -> None:
    other = make_engine(tmp_path / "other.db")
    with Session(other) as session:
        session.execute(update(Item).values(name="另一个城市"))
        session.commit()
    reader = Reader()
    with Session(engine) as first, Session(other) as second:
        assert (reader.name(first, "A"), reader.name(second, "A")) == ("婚姻登记", "另一个城市")
    other.dispose()
