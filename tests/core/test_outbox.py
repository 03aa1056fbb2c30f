"""Events caused by a transaction are published after it commits, and never after a rollback; an event may be
given as a function that builds it after the commit, when the rows it names have their ids (a notification's
``notify.sent`` is built that way and carries the row's real id); savepoints neither publish nor drop others'
events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core import outbox
from xingcheng.core.appended import queued_rows
from xingcheng.core.db import Base, create_db_engine
from xingcheng.core.events import Delivery, Event, InProcessBus, event_topic
from xingcheng.core.notifications.models import Notification
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify


@pytest.fixture
def bus() -> Iterator[tuple[InProcessBus, list[Delivery]]]:
    received: list[Delivery] = []
    in_process = InProcessBus()
    in_process.subscribe("xc/events/#", received.append)
    outbox.set_bus(in_process)
    yield in_process, received
    outbox.set_bus(None)
    in_process.close()


@pytest.fixture
def session() -> Iterator[Session]:
    import xingcheng.core.notifications.models  # noqa: F401 — registers the table

    engine = create_db_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[Base.metadata.tables["notification"]])
    with Session(engine) as s:
        yield s


def test_published_only_after_commit(bus, session):
    _, received = bus
    outbox.publish_after_commit(session, event_topic("test", "done"), Event(type="xingcheng.test.done", source="/t"))
    assert received == []
    session.commit()
    assert [d.event.type for d in received] == ["xingcheng.test.done"]


def test_rollback_drops_the_events(bus, session):
    _, received = bus
    outbox.publish_after_commit(session, event_topic("test", "done"), Event(type="xingcheng.test.done", source="/t"))
    session.rollback()
    session.commit()
    assert received == []


def test_event_channel_of_a_notification(bus, session):
    _, received = bus
    notify(session, source="test", data=NotificationCreate(recipient_kind="role", recipient_key="operator",
                                                           title="暴雨预警", channels=["event"]))
    session.commit()
    assert received[0].topic == "xc/events/notify/sent"
    assert received[0].event.subject == "role:operator"
    assert received[0].event.data["title"] == "暴雨预警"


# ---- events built after the commit, savepoints -----------------------------------------------------------

TOPIC = event_topic("test", "done")


@pytest.fixture
def received(bus: tuple[InProcessBus, list[Delivery]]) -> list[Delivery]:
    return bus[1]


def _builder(calls: list[str], name: str = "built") -> object:
    def build() -> Event:
        calls.append(name)
        return Event(type="xingcheng.test.done", source="/t", data={"name": name})

    return build


def test_a_callable_event_is_built_only_after_the_commit(received, session):
    calls: list[str] = []
    outbox.publish_after_commit(session, TOPIC, _builder(calls))  # type: ignore[arg-type]
    session.flush()
    assert calls == [] and received == []
    session.commit()
    assert calls == ["built"]
    assert [(d.topic, d.event.data) for d in received] == [(TOPIC, {"name": "built"})]
    session.commit()  # a later commit does not build it again
    assert calls == ["built"] and len(received) == 1


def test_a_callable_event_is_never_built_after_a_rollback(received, session):
    calls: list[str] = []
    outbox.publish_after_commit(session, TOPIC, _builder(calls))  # type: ignore[arg-type]
    session.rollback()
    session.commit()
    assert calls == [] and received == []


def test_callable_and_ready_events_keep_their_order_and_a_failing_builder_spares_the_others(received, session):
    def broken() -> Event:
        raise RuntimeError("cannot build")

    calls: list[str] = []
    outbox.publish_after_commit(session, TOPIC, _builder(calls, "first"))  # type: ignore[arg-type]
    outbox.publish_after_commit(session, TOPIC, broken)
    outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/t", data={"name": "ready"}))
    outbox.publish_after_commit(session, TOPIC, _builder(calls, "last"))  # type: ignore[arg-type]
    session.commit()  # the commit itself does not fail
    assert [d.event.data["name"] for d in received] == ["first", "ready", "last"]


def test_a_notification_event_carries_the_real_row_id(received, session):
    notify(session, source="test", data=NotificationCreate(
        recipient_kind="role", recipient_key="operator", title="暴雨预警", channels=["event"]))
    assert queued_rows(session) == 1  # notify does not write: the row goes with the caller's next write
    session.commit()
    [delivery] = received
    assert delivery.topic == "xc/events/notify/sent"
    assert delivery.event.type == "xingcheng.notify.sent"
    stored = session.scalars(select(Notification)).one()
    assert delivery.event.data == {"id": stored.id, "title": "暴雨预警", "link": None}
    assert isinstance(delivery.event.data["id"], int)


def test_each_notification_of_a_unit_of_work_names_its_own_row(any_db, received):
    # any_db first: building the demo city (once per run) publishes events of its own
    for n, title in enumerate(("第一条", "第二条", "第三条")):
        notify(any_db, source="test", data=NotificationCreate(
            recipient_kind="department", recipient_key="xzsp", title=title, link=f"/x/{n}", channels=["event"]))
    notify(any_db, source="test", data=NotificationCreate(  # no event channel: no event
        recipient_kind="role", recipient_key="operator", title="仅站内"))
    any_db.commit()
    events = [d.event for d in received if d.topic == "xc/events/notify/sent"]
    sent = any_db.scalars(select(Notification).where(Notification.source == "test", Notification.recipient_key == "xzsp")
                          .order_by(Notification.id)).all()
    assert [e.data for e in events] == [{"id": n.id, "title": n.title, "link": n.link} for n in sent]
    assert all(isinstance(e.data["id"], int) for e in events)
    assert len({e.data["id"] for e in events}) == 3
    assert all(e.subject == "department:xzsp" for e in events)


def test_a_notification_rolled_back_publishes_nothing(received, session):
    notify(session, source="test", data=NotificationCreate(
        recipient_kind="role", recipient_key="operator", title="撤回", channels=["event"]))
    session.flush()
    session.rollback()
    session.commit()
    assert received == []
    assert session.scalars(select(Notification)).all() == []


def test_a_released_savepoint_publishes_nothing_before_the_commit(session: Session, received: list[Delivery]) -> None:
    # SQLAlchemy runs after_commit when a savepoint is released too: nothing is committed then.
    session.execute(select(1))
    outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/test", data={"n": 1}))
    with session.begin_nested():
        outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/test", data={"n": 2}))
    assert received == []
    session.commit()
    assert [d.event.data["n"] for d in received] == [1, 2]


def test_a_rolled_back_savepoint_drops_only_its_own_events(session: Session, received: list[Delivery]) -> None:
    session.execute(select(1))
    outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/test", data={"n": 1}))
    with pytest.raises(ValueError), session.begin_nested():
        outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/test", data={"n": 2}))
        raise ValueError("the savepoint fails")
    with session.begin_nested():  # a later savepoint, released: its event stays
        outbox.publish_after_commit(session, TOPIC, Event(type="xingcheng.test.done", source="/test", data={"n": 3}))
    session.commit()
    assert [d.event.data["n"] for d in received] == [1, 3]
