"""Intake, routing into the dispatcher queue, the handling workflow, duplicates, SLA — through the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from _requests_helpers import BEIJING, FURONG, citizen, dispatcher, staff
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.notifications.models import Notification
from xingcheng.governance.requests import service, sla
from xingcheng.governance.requests.schemas import RequestCreate

# A Wednesday morning in Beijing time: working-day arithmetic is easy to follow from here.
WEDNESDAY = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


def _submit(session: Session, text: str, *, lon_lat: tuple[float, float] | None = FURONG, now: datetime = WEDNESDAY,
            category: str | None = None, who=None):  # type: ignore[no-untyped-def]
    lon, lat = lon_lat if lon_lat else (None, None)
    data = RequestCreate(description=text, lon=lon, lat=lat, category_code=category, contact_phone="13800138000")
    return service.submit(session, data=data, channel="api", submitter=who, now=now)


def _audit_actions(session: Session, ticket: str) -> list[str]:
    rows = session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"request:{ticket}").order_by(AuditEntry.id))
    return list(rows)


def test_a_clear_request_is_routed_located_and_timed(any_db: Session):
    request = _submit(any_db, "楼下烧烤摊油烟太大熏得睡不着", who=citizen(any_db))
    assert request.status == "assigned"
    assert (request.category_code, request.department_code, request.route_method) == ("CG-BBQ", "cgj", "auto")
    assert request.division_code == "430102"
    assert request.street  # the nearest 街道 of the district
    assert request.ticket.startswith("CS261125")
    assert request.due_at == sla.add_working_days(WEDNESDAY, 3)
    assert _audit_actions(any_db, request.ticket) == ["requests.submit"]
    department_inbox = any_db.scalars(select(Notification).where(
        Notification.recipient_kind == "department", Notification.recipient_key == "cgj")).all()
    assert any(request.ticket in n.title for n in department_inbox)
    citizen_inbox = any_db.scalars(select(Notification).where(
        Notification.recipient_kind == "account", Notification.recipient_key == str(request.citizen_account_id))).all()
    assert any(request.ticket in n.title for n in citizen_inbox)


def test_an_unclear_request_waits_for_the_dispatcher(any_db: Session):
    request = _submit(any_db, "你好，我想问一下这个事情怎么办")
    assert request.status == "dispatch"
    assert request.department_code is None and request.route_method == "dispatcher"
    with pytest.raises(Forbidden):
        service.dispatch(any_db, request_id=request.id, department_code="mz", category_code=None, actor=staff("cgj"))
    service.dispatch(any_db, request_id=request.id, department_code="mz", category_code=None, actor=dispatcher(), now=WEDNESDAY)
    assert request.status == "assigned" and request.department_code == "mz"
    assert request.category_code == "MZ"  # the department's category when the dispatcher names none
    with pytest.raises(Invalid):
        service.dispatch(any_db, request_id=request.id, department_code="nope", category_code=None, actor=dispatcher())


def test_the_whole_handling_workflow(any_db: Session):
    owner = citizen(any_db)
    request = _submit(any_db, "小区门口的垃圾好几天没人清运，臭气熏天", who=owner)
    assert request.department_code == "cgj"
    with pytest.raises(Forbidden):
        service.accept(any_db, request_id=request.id, actor=staff("zjj"))  # not their department
    with pytest.raises(Conflict):
        service.reply(any_db, request_id=request.id, text="已处理", actor=staff("cgj"))  # not accepted yet
    # cgj says it is the property company's matter: transfer to 住建 with the reason, counted.
    service.transfer(any_db, request_id=request.id, reason="小区红线内垃圾由物业负责", to_department_code="zjj", actor=staff("cgj"))
    assert (request.status, request.department_code, request.transfer_count) == ("assigned", "zjj", 1)
    service.accept(any_db, request_id=request.id, actor=staff("zjj"))
    service.record_progress(any_db, request_id=request.id, note="已约谈物业公司", actor=staff("zjj"))
    service.reply(any_db, request_id=request.id, text="已督促物业当日清运完毕", actor=staff("zjj"))
    assert request.status == "replied" and request.replied_at is not None
    with pytest.raises(Forbidden):
        service.confirm(any_db, request_id=request.id, satisfaction=5, feedback="", actor=staff("zjj"))
    # Not solved: the citizen reopens; the same department gets it back with a fresh clock.
    service.reopen(any_db, request_id=request.id, reason="第二天又堆满了", actor=owner)
    assert (request.status, request.reopen_count, request.reply) == ("accepted", 1, None)
    service.reply(any_db, request_id=request.id, text="已增加清运频次为每日两次", actor=staff("zjj"))
    service.confirm(any_db, request_id=request.id, satisfaction=4, feedback="现在好多了", actor=owner)
    assert (request.status, request.satisfaction) == ("closed", 4)
    actions = [e.action for e in request.events]
    assert actions == ["submit", "transfer", "accept", "handle", "reply", "reopen", "reply", "confirm"]
    assert _audit_actions(any_db, request.ticket) == [f"requests.{a}" for a in actions]


def test_transfer_without_a_target_goes_back_to_the_dispatcher(any_db: Session):
    request = _submit(any_db, "家里停水了也没有通知")
    service.transfer(any_db, request_id=request.id, reason="非供水问题，属小区二次供水设施", to_department_code=None, actor=staff("sw"))
    assert (request.status, request.department_code, request.transfer_count) == ("dispatch", None, 1)


def test_bad_input_is_refused(any_db: Session):
    with pytest.raises(Invalid, match="outside"):
        _submit(any_db, "路灯坏了", lon_lat=BEIJING)
    with pytest.raises(NotFound):
        _submit(any_db, "路灯坏了", category="XX-NONE")
    with pytest.raises(ValueError):
        RequestCreate(description="   ")
    with pytest.raises(ValueError):
        RequestCreate(description="长" * 2001)
    with pytest.raises(ValueError):
        RequestCreate(description="路灯坏了", lon=112.98)  # a pin needs both coordinates


def test_a_text_address_is_located_without_a_pin(any_db: Session):
    data = RequestCreate(description="路灯不亮", address="岳麓区麓山南路100号")
    request = service.submit(any_db, data=data, channel="api", now=WEDNESDAY)
    assert request.division_code == "430104"
    assert request.lon is not None and request.lat is not None


def test_duplicates_nearby_are_merged_and_answered_together(any_db: Session):
    first = _submit(any_db, "路中间的井盖不见了，很危险")
    near = (FURONG[0] + 0.0005, FURONG[1] + 0.0005)  # ≈ 70 m away
    second = _submit(any_db, "马路上井盖丢失了，有个大洞", lon_lat=near, now=WEDNESDAY + timedelta(hours=5))
    assert second.status == "merged" and second.merged_into_id == first.id
    assert first.duplicate_count == 1
    far = (FURONG[0] + 0.01, FURONG[1])  # ≈ 1 km away: a different place
    third = _submit(any_db, "井盖缺失了，车子压过去很危险", lon_lat=far, now=WEDNESDAY + timedelta(hours=6))
    assert third.status == "assigned"
    later = _submit(any_db, "井盖没了", now=WEDNESDAY + timedelta(days=4))  # outside the window
    assert later.status == "assigned"
    service.accept(any_db, request_id=first.id, actor=staff("cgj"))
    service.reply(any_db, request_id=first.id, text="已补装井盖", actor=staff("cgj"))
    assert second.reply == "已补装井盖" and second.status == "merged"


def test_sla_warns_escalates_and_auto_closes(any_db: Session):
    request = _submit(any_db, "路边的垃圾桶满了没人清理，到处是苍蝇")
    assert request.category_code == "CG-SAN" and request.sla_days == 2
    assert request.due_at is not None
    report = service.sla_tick(any_db, now=request.due_at - timedelta(hours=30))
    assert report["warned"] == 0 or request.warned_at is None
    service.sla_tick(any_db, now=request.due_at - timedelta(hours=2))
    assert request.warned_at is not None and request.escalation_level == 0
    service.sla_tick(any_db, now=request.due_at + timedelta(hours=1))
    assert request.escalation_level == 1
    again = service.sla_tick(any_db, now=request.due_at + timedelta(hours=2))
    assert again["escalated"] == 0 or request.escalation_level == 1  # idempotent for the same level
    service.sla_tick(any_db, now=request.due_at + timedelta(days=14))
    assert request.escalation_level == 3
    dispatcher_inbox = any_db.scalars(select(Notification).where(
        Notification.recipient_kind == "role", Notification.recipient_key == "operator")).all()
    assert any(request.ticket in n.title for n in dispatcher_inbox)
    assert service.is_overdue(request, request.due_at + timedelta(days=1))
    # A reply the citizen leaves unanswered for a week is closed.
    service.accept(any_db, request_id=request.id, actor=staff("cgj"))
    service.reply(any_db, request_id=request.id, text="已清理", actor=staff("cgj"), now=request.due_at + timedelta(days=15))
    assert request.replied_at is not None
    service.sla_tick(any_db, now=request.replied_at + timedelta(days=8))
    assert request.status == "closed"
    actions = [e.action for e in request.events]
    assert actions.count("warn") == 1 and actions.count("escalate") == 2 and actions[-1] == "auto_close"


def test_working_days_skip_the_weekend():
    friday = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday 10:00 Beijing
    assert sla.add_working_days(friday, 1).astimezone(sla.BEIJING).weekday() == 0  # Monday
    saturday = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert sla.add_working_days(saturday, 1).astimezone(sla.BEIJING).date().isoformat() == "2026-12-01"
    assert sla.working_days_between(friday, friday + timedelta(days=3)) == 1
    assert sla.escalation_level(friday, friday - timedelta(hours=1)) == 0
