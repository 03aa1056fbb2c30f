"""Push campaigns: idempotent, notify the enterprise account, publish the event, grant 免申即享
benefits at once; feedback drives precision; the demo city holds ≥ 500 policies at four levels."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core import outbox
from xingcheng.core.auth import Principal, Role
from xingcheng.core.errors import Conflict, Forbidden, NotFound
from xingcheng.core.events import Delivery, create_bus
from xingcheng.core.identity.models import Account
from xingcheng.core.notifications.models import Notification
from xingcheng.datahub.registries.models import LegalEntity
from xingcheng.egov.policy import matching, service
from xingcheng.egov.policy.models import BenefitGrant, Policy, PolicyPush
from xingcheng.egov.policy.schemas import PolicyCreate, PolicyPushEvent

ADMIN = Principal(kind="staff", name="admin", roles=frozenset({Role.ADMIN}))


def enterprise_account(session: Session) -> tuple[Account, LegalEntity]:
    account = session.scalars(select(Account).where(Account.username == "enterprise")).one()
    entity = session.scalars(select(LegalEntity).where(LegalEntity.credit_code == account.credit_code)).one()
    return account, entity


def own_policy(session: Session, entity: LegalEntity, *, code: str, no_application: bool = False,
               extra: list[dict[str, Any]] | None = None) -> Policy:
    """A policy the demo enterprise qualifies for (its district and industry), plus ``extra`` items."""
    rule = {"all": [{"field": "division_code", "op": "==", "value": entity.division_code},
                    {"field": "industry_code", "op": "prefix", "value": [entity.industry_code]},
                    *(extra or [])]}
    return service.create_policy(session, editor=ADMIN, data=PolicyCreate(
        code=code, title="测试区软件企业发展扶持", level="district", issuer="测试区科技和工业信息化局",
        benefit_amount_yuan=80_000, benefit_note="一次性奖励8万元", no_application=no_application, conditions=rule,
    ))


def test_the_demo_city_has_at_least_500_policies_at_four_levels(any_db):
    levels = dict(any_db.execute(select(Policy.level, func.count()).group_by(Policy.level)).all())
    assert sum(levels.values()) >= 500
    assert set(levels) == {"national", "provincial", "municipal", "district"}
    titles = any_db.scalars(select(Policy.title)).all()
    assert len(set(titles)) == len(titles)
    assert any("高新技术企业认定奖励" in t for t in titles) and any("稳岗返还" in t for t in titles)
    stats = service.stats(any_db)
    assert stats["pushes"] > 0 and stats["grants"] > 0 and 0 < stats["precision"] <= 1


def test_a_push_notifies_the_enterprise_and_publishes_the_event_once(any_db):
    account, entity = enterprise_account(any_db)
    policy = own_policy(any_db, entity, code="TEST-PUSH-0001")
    received: list[Delivery] = []
    bus = create_bus(None, client_id="policy-test")
    bus.subscribe("xc/events/policy/push", received.append)
    outbox.set_bus(bus)
    try:
        first = service.push_policy(any_db, policy_id=policy.id, actor=ADMIN)
        any_db.commit()  # the events go out after commit
        second = service.push_policy(any_db, policy_id=policy.id, actor=ADMIN)
        any_db.commit()
    finally:
        outbox.set_bus(None)
    assert first.qualified >= 1 and first.new_pushes == first.qualified and first.already_pushed == 0
    assert second.qualified == first.qualified and second.new_pushes == 0 and second.already_pushed == first.qualified
    pushes = any_db.scalars(select(PolicyPush).where(PolicyPush.policy_id == policy.id)).all()
    assert len(pushes) == first.qualified  # re-running did not duplicate
    mine = next(p for p in pushes if p.credit_code == entity.credit_code)
    assert mine.notified_accounts == 1 and all(item["passed"] for item in mine.reasons)
    inbox = any_db.scalars(select(Notification).where(
        Notification.recipient_kind == "account", Notification.recipient_key == str(account.id),
        Notification.source == "policy", Notification.title.contains("测试区软件企业发展扶持"))).all()
    assert len(inbox) == 1 and inbox[0].link == f"/portal/policy?push={mine.id}"
    events = [PolicyPushEvent.model_validate(d.event.data) for d in received if d.event.data["policy_id"] == policy.id]
    assert len(events) == first.qualified
    assert {e.credit_code for e in events} == {p.credit_code for p in pushes}
    assert all(not e.no_application and e.grant_amount_yuan is None for e in events)


def test_no_application_policies_grant_the_benefit_directly(any_db):
    _account, entity = enterprise_account(any_db)
    policy = own_policy(any_db, entity, code="TEST-FREE-0001", no_application=True)
    campaign = service.push_policy(any_db, policy_id=policy.id, actor=ADMIN)
    grants = any_db.scalars(select(BenefitGrant).where(BenefitGrant.policy_id == policy.id)).all()
    assert campaign.grants == len(grants) == campaign.new_pushes
    assert campaign.granted_yuan == 80_000 * len(grants)
    assert {g.credit_code for g in grants} >= {entity.credit_code}
    service.push_policy(any_db, policy_id=policy.id, actor=ADMIN)
    assert any_db.scalar(select(func.count(BenefitGrant.id)).where(BenefitGrant.policy_id == policy.id)) == len(grants)


def test_matches_explain_reasons_and_near_misses_for_one_enterprise(any_db):
    _account, entity = enterprise_account(any_db)
    fits = own_policy(any_db, entity, code="TEST-MATCH-0001")
    misses = own_policy(any_db, entity, code="TEST-MATCH-0002",
                        extra=[{"field": "high_tech", "op": "==", "value": not entity.high_tech}])
    result = matching.matches_for(any_db, credit_code=entity.credit_code)
    qualified = {m["code"]: m for m in result["qualified"]}
    near = {m["code"]: m for m in result["near_misses"]}
    assert fits.code in qualified and misses.code in near and misses.code not in qualified
    assert near[misses.code]["missing"] == [("无" if entity.high_tech else "") + "高新技术企业认定"]
    reason = qualified[fits.code]["reasons"][1]
    assert reason["passed"] and entity.industry_code in reason["actual"]


def test_preview_counts_match_the_row_by_row_view(any_db):
    _account, entity = enterprise_account(any_db)
    policy = own_policy(any_db, entity, code="TEST-PREVIEW-0001")
    preview = matching.preview(any_db, policy=policy)
    active_in_place = any_db.scalar(select(func.count(LegalEntity.id)).where(
        LegalEntity.status == "active", LegalEntity.division_code == entity.division_code,
        LegalEntity.industry_code.startswith(entity.industry_code)))
    assert preview["qualified"] == active_in_place
    assert [d["division_code"] for d in preview["by_district"] if d["qualified"]] == [entity.division_code]
    assert preview["near_misses"] == sum(d["near_misses"] for d in preview["by_district"])
    assert sum(b["near_misses"] for b in preview["blocking"]) == preview["near_misses"]


def test_feedback_is_the_enterprises_own_and_drives_precision(any_db):
    _account, entity = enterprise_account(any_db)
    policy = own_policy(any_db, entity, code="TEST-FEEDBACK-0001")
    service.push_policy(any_db, policy_id=policy.id, actor=ADMIN)
    push = any_db.scalars(select(PolicyPush).where(PolicyPush.policy_id == policy.id,
                                                   PolicyPush.credit_code == entity.credit_code)).one()
    other = any_db.scalars(select(PolicyPush).where(PolicyPush.credit_code != entity.credit_code)).first()
    me = Principal(kind="enterprise", name="enterprise", roles=frozenset({Role.ENTERPRISE}),
                   credit_code=entity.credit_code)
    before = service.stats(any_db)
    service.give_feedback(any_db, principal=me, push_id=push.id, useful=False, note="已享受过")
    after = service.stats(any_db)
    assert after["not_useful"] == before["not_useful"] + 1 and after["feedback"] == before["feedback"] + 1
    assert after["precision"] == round(after["useful"] / after["feedback"], 4)
    service.give_feedback(any_db, principal=me, push_id=push.id, useful=True)  # a change of mind overwrites
    assert service.stats(any_db)["useful"] == before["useful"] + 1
    assert other is not None
    with pytest.raises(NotFound):
        service.give_feedback(any_db, principal=me, push_id=other.id, useful=True)


def test_staff_scope_closed_and_archived_policies(any_db):
    clerk = Principal(kind="staff", name="clerk", roles=frozenset({Role.DEPARTMENT_STAFF}), department_code="xzsp")
    foreign = any_db.scalars(select(Policy).where(Policy.department_code == "kjj", Policy.status == "published")).first()
    assert foreign is not None
    with pytest.raises(Forbidden):
        service.push_policy(any_db, policy_id=foreign.id, actor=clerk)
    archived = any_db.scalars(select(Policy).where(Policy.status == "archived")).first()
    assert archived is not None
    with pytest.raises(Conflict):
        service.push_policy(any_db, policy_id=archived.id, actor=ADMIN)
