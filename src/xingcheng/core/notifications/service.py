"""Send to an account, a department or a role; list and mark read for the caller.

Channels: ``in_app`` is the inbox row itself; ``event`` publishes ``xc/events/notify/sent`` once
the transaction commits; ``sms`` and ``email`` go through adapters that a deployment plugs in (the default ones
log, as in the demo).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, or_, select, update
from sqlalchemy.orm import Session

from xingcheng.core.appended import append_row
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.notifications.models import Notification
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams

log = logging.getLogger("xingcheng.notify")
_NOTIFICATIONS = cast(Table, Notification.__table__)

ChannelAdapter = Callable[[Notification], None]


def _log_adapter(channel: str) -> ChannelAdapter:
    def send(notification: Notification) -> None:
        log.info("%s to %s:%s — %s", channel, notification.recipient_kind, notification.recipient_key, notification.title)

    return send


# A deployment replaces these with its SMS gateway / mail relay.
CHANNEL_ADAPTERS: dict[str, ChannelAdapter] = {"sms": _log_adapter("sms"), "email": _log_adapter("email")}


def _values(source: str, data: NotificationCreate) -> dict[str, Any]:
    return {"recipient_kind": data.recipient_kind, "recipient_key": data.recipient_key, "title": data.title,
            "body": data.body, "link": data.link, "source": source,
            "channels": list(dict.fromkeys(["in_app", *data.channels])), "created_at": utcnow(), "read_at": None}


def _deliver(session: Session, values: dict[str, Any], row_id: Callable[[], int | None]) -> None:
    """The channels beyond the inbox row: adapters now, ``notify.sent`` (with the row's id) after the commit."""
    for channel in values["channels"]:
        if channel in CHANNEL_ADAPTERS:
            CHANNEL_ADAPTERS[channel](Notification(**values))
        elif channel == "event":
            publish_after_commit(session, event_topic("notify", "sent"), lambda: Event(
                type="xingcheng.notify.sent", source="/notifications",
                subject=f"{values['recipient_kind']}:{values['recipient_key']}",
                data={"id": row_id(), "title": values["title"], "link": values["link"]}))


def notify(session: Session, *, source: str, data: NotificationCreate) -> None:
    """Send a notification. Its inbox row is an append-only row of the caller's unit of work (``core.appended``),
    written with its other rows; ``send`` when the caller needs the row itself."""
    values = _values(source, data)
    written: list[int] = []
    append_row(session, _NOTIFICATIONS, values, with_id=written.append if "event" in values["channels"] else None)
    _deliver(session, values, lambda: written[0])


def send(session: Session, *, source: str, data: NotificationCreate) -> Notification:
    """``notify``, returning the stored row (flushed: it has its id)."""
    values = _values(source, data)
    notification = Notification(**values)
    session.add(notification)
    session.flush()
    _deliver(session, values, lambda: notification.id)
    return notification


def _recipient_filter(principal: Principal) -> ColumnElement[bool]:
    clauses = [(Notification.recipient_kind == "role") & (Notification.recipient_key.in_(sorted(principal.roles)))]
    if principal.account_id is not None:
        clauses.append((Notification.recipient_kind == "account") & (Notification.recipient_key == str(principal.account_id)))
    if principal.department_code:
        clauses.append((Notification.recipient_kind == "department") & (Notification.recipient_key == principal.department_code))
    return or_(*clauses)


def list_for(
    session: Session, *, principal: Principal, page: PageParams, unread_only: bool = False
) -> tuple[Sequence[Notification], int]:
    statement = select(Notification).where(_recipient_filter(principal))
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    return paginate(session, statement.order_by(Notification.id.desc()), page)


def mark_read(session: Session, *, principal: Principal, notification_id: int) -> Notification:
    notification = session.scalar(
        select(Notification).where(Notification.id == notification_id, _recipient_filter(principal))
    )
    if notification is None:
        raise NotFound(f"no notification {notification_id} in your inbox")
    if notification.read_at is None:
        notification.read_at = utcnow()
    return notification


def mark_all_read(session: Session, *, principal: Principal) -> int:
    result = session.execute(
        update(Notification).where(_recipient_filter(principal), Notification.read_at.is_(None)).values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
