"""Events caused by a transaction are published after it commits, and never after a rollback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from xingcheng.core import outbox
from xingcheng.core.db import Base, create_db_engine
from xingcheng.core.events import Delivery, Event, InProcessBus, event_topic
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
