"""惠企政策: edit policies (rule sets validated on save), push campaigns, feedback, efficiency figures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.events import Event, event_topic
from xingcheng.core.identity.models import Account, Department, Division
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.outbox import publish_after_commit
from xingcheng.core.schemas import PageParams
from xingcheng.egov.policy import engine, matching, rules
from xingcheng.egov.policy.models import BenefitGrant, Policy, PolicyPush, PushCampaign
from xingcheng.egov.policy.schemas import PolicyCreate, PolicyPushEvent, PolicyUpdate

POLICY_EDITORS = frozenset({Role.ADMIN, Role.DATA_STEWARD})  # may edit any policy
PUSH_TOPIC = event_topic("policy", "push")
SOURCE = "policy"


# ---- rule sets -------------------------------------------------------------------------------

def field_catalogue() -> list[dict[str, Any]]:
    return [{"name": s.name, "kind": s.kind, "label": s.label, "unit": s.unit, "ops": list(rules.OPS_BY_KIND[s.kind]),
             "choices": list(s.choices), "source": s.source} for s in rules.FIELDS.values()]


def condition_text(rule: dict[str, Any]) -> list[str]:
    _kind, items = rules.top_items(rule)
    return [rules.describe_condition(item) for item in items]


def check_conditions(rule: Any) -> dict[str, Any]:
    errors = rules.validate(rule)
    return {"valid": not errors, "errors": errors, "condition_text": [] if errors else condition_text(rule)}


def require_valid_conditions(rule: Any) -> dict[str, Any]:
    """The rule set, or a 422 naming each bad condition by its JSON pointer under ``/conditions``."""
    errors = rules.validate(rule)
    if errors:
        raise Invalid(
            f"the rule set has {len(errors)} error(s): {errors[0]['message']}",
            errors=[{"in": "body", "field": "conditions" + e["pointer"].replace("/", "."),
                     "pointer": "/conditions" + e["pointer"], "message": e["message"], "type": e["type"]}
                    for e in errors],
        )
    return dict(rule)


# ---- policies --------------------------------------------------------------------------------

def policy_view(policy: Policy) -> dict[str, Any]:
    fields = ("id", "code", "title", "summary", "level", "issuer", "department_code", "division_code",
              "benefit_amount_yuan", "benefit_note", "deadline", "no_application", "conditions", "status",
              "created_at", "updated_at")
    return {**{f: getattr(policy, f) for f in fields}, "condition_text": condition_text(policy.conditions)}


def get(session: Session, *, policy_id: int) -> Policy | None:
    return session.get(Policy, policy_id)


def get_or_raise(session: Session, *, policy_id: int) -> Policy:
    policy = get(session, policy_id=policy_id)
    if policy is None:
        raise NotFound(f"no policy {policy_id}")
    return policy


def list_policies(
    session: Session, *, page: PageParams, level: str | None = None, status: str | None = None,
    no_application: bool | None = None, department_code: str | None = None, q: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    statement: Select[Policy] = select(Policy)
    if level:
        statement = statement.where(Policy.level == level)
    if status:
        statement = statement.where(Policy.status == status)
    if no_application is not None:
        statement = statement.where(Policy.no_application.is_(no_application))
    if department_code:
        statement = statement.where(Policy.department_code == department_code)
    for term in (q or "").split():
        statement = statement.where(or_(Policy.title.contains(term, autoescape=True),
                                        Policy.issuer.contains(term, autoescape=True)))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(Policy.id).limit(page.limit).offset(page.offset)).all()
    return [policy_view(p) for p in rows], int(total)


def _check_scope(editor: Principal, department_code: str | None) -> None:
    """Department staff edit their own department's policies; admins and stewards any."""
    if editor.roles & POLICY_EDITORS:
        return
    if department_code is None or department_code != editor.department_code:
        raise Forbidden("department staff may edit only the policies their own department maintains")


def _check_references(session: Session, *, department_code: str | None, division_code: str | None) -> None:
    if department_code is not None and session.scalar(select(Department.id).where(Department.code == department_code)) is None:
        raise Invalid(f"no department {department_code}", errors=[
            {"in": "body", "field": "department_code", "pointer": "/department_code", "message": "unknown department",
             "type": "unknown_department"}])
    if division_code is not None and session.get(Division, division_code) is None:
        raise Invalid(f"no division {division_code}", errors=[
            {"in": "body", "field": "division_code", "pointer": "/division_code", "message": "unknown division",
             "type": "unknown_division"}])


def create_policy(session: Session, *, data: PolicyCreate, editor: Principal) -> Policy:
    conditions = require_valid_conditions(data.conditions)
    department_code = data.department_code
    if department_code is None and not editor.roles & POLICY_EDITORS:
        department_code = editor.department_code
    _check_scope(editor, department_code)
    _check_references(session, department_code=department_code, division_code=data.division_code)
    if session.scalar(select(Policy.id).where(Policy.code == data.code)) is not None:
        raise Conflict(f"a policy with code {data.code} exists")
    policy = Policy(**{**data.model_dump(), "conditions": conditions, "department_code": department_code})
    session.add(policy)
    session.flush()
    audit.record(session, actor=editor, action="policy.create", subject=f"policy:{policy.code}",
                 details={"level": policy.level, "no_application": policy.no_application})
    return policy


def update_policy(session: Session, *, policy_id: int, data: PolicyUpdate, editor: Principal) -> Policy:
    policy = get_or_raise(session, policy_id=policy_id)
    _check_scope(editor, policy.department_code)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Invalid("nothing to change: send at least one field")
    if "conditions" in changes:
        if changes["conditions"] is None:
            raise Invalid("conditions cannot be empty")
        changes["conditions"] = require_valid_conditions(changes["conditions"])
    for name in ("title", "level", "issuer", "benefit_amount_yuan", "benefit_note", "no_application", "status",
                 "summary"):
        if name in changes and changes[name] is None:
            raise Invalid(f"{name} cannot be null")
    _check_references(session, department_code=None, division_code=changes.get("division_code"))
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=editor, action="policy.update", subject=f"policy:{policy.code}",
                 details={"fields": sorted(changes)})
    return policy


# ---- pushes ----------------------------------------------------------------------------------

def enterprise_accounts(session: Session, credit_codes: Sequence[str]) -> dict[str, list[int]]:
    accounts: dict[str, list[int]] = {}
    wanted = set(credit_codes)
    rows = session.execute(select(Account.credit_code, Account.id).where(
        Account.kind == "enterprise", Account.is_active.is_(True), Account.credit_code.is_not(None)).order_by(Account.id))
    for code, account_id in rows:
        if code in wanted:
            accounts.setdefault(code, []).append(account_id)
    return accounts


def push_policy(
    session: Session, *, policy_id: int, actor: Principal | str, at: datetime | None = None,
    frame: engine.EnterpriseFrame | None = None,
) -> PushCampaign:
    """Push a published policy to every active enterprise that qualifies and has not had it yet.

    One push per (policy, enterprise): re-running adds only enterprises that newly qualify. Each new
    push notifies the enterprise's accounts, publishes ``xc/events/policy/push`` after commit, and
    for 免申即享 policies records the benefit grant at once. ``frame`` lets a batch of campaigns
    share one read of the enterprise attributes.
    """
    policy = get_or_raise(session, policy_id=policy_id)
    if policy.status != "published":
        raise Conflict(f"policy {policy.code} is {policy.status}; only published policies are pushed")
    if isinstance(actor, Principal):
        _check_scope(actor, policy.department_code)
    now = at or utcnow()
    if policy.deadline is not None and policy.deadline < now.date():
        raise Conflict(f"policy {policy.code} closed on {policy.deadline.isoformat()}")
    if frame is None:
        frame = matching.enterprise_frame(session)[0]
    result = engine.match(frame, engine.compile_rule(policy.conditions))
    qualified = np.flatnonzero(result.qualified).tolist()
    pushed = set(session.scalars(select(PolicyPush.credit_code).where(PolicyPush.policy_id == policy.id)).all())
    new = [i for i in qualified if frame.credit_codes[i] not in pushed]
    accounts = enterprise_accounts(session, [frame.credit_codes[i] for i in new])
    actor_name = actor.name if isinstance(actor, Principal) else actor
    campaign = PushCampaign(policy_id=policy.id, started_by=actor_name, started_at=now, qualified=len(qualified),
                            already_pushed=len(qualified) - len(new))
    session.add(campaign)
    session.flush()
    pushes = []
    for index in new:
        code = frame.credit_codes[index]
        explanation = rules.explain(policy.conditions, frame.row(index))
        push = PolicyPush(policy_id=policy.id, credit_code=code, campaign_id=campaign.id, pushed_at=now,
                          reasons=[item.as_dict() for item in explanation.items],
                          notified_accounts=len(accounts.get(code, [])), feedback_note="")
        pushes.append(push)
    session.add_all(pushes)
    session.flush()
    granted = 0
    for push in pushes:
        grant_amount = None
        if policy.no_application:
            grant_amount = policy.benefit_amount_yuan
            session.add(BenefitGrant(policy_id=policy.id, credit_code=push.credit_code, push_id=push.id,
                                     amount_yuan=grant_amount, granted_at=now,
                                     note=f"免申即享：{policy.title}（{policy.benefit_note or '按政策标准'}）"))
            granted += grant_amount
        for account_id in accounts.get(push.credit_code, []):
            verb = "已为您直接兑现" if policy.no_application else "您可能符合"
            notify(session, source=SOURCE, data=NotificationCreate(
                recipient_kind="account", recipient_key=str(account_id), channels=["in_app", "sms"],
                title=f"惠企政策{verb}：{policy.title}"[:200],
                body=(f"{policy.issuer}《{policy.title}》。{policy.benefit_note}".strip()
                      + ("（免申即享，无需申请）" if policy.no_application else "。匹配依据见“我的政策”。"))[:5000],
                link=f"/portal/policy?push={push.id}",
            ))
        payload = PolicyPushEvent(
            push_id=push.id, policy_id=policy.id, policy_code=policy.code, policy_title=policy.title,
            credit_code=push.credit_code, no_application=policy.no_application, grant_amount_yuan=grant_amount,
            notified_accounts=push.notified_accounts, pushed_at=now,
        )
        publish_after_commit(session, PUSH_TOPIC, Event(
            type="xingcheng.policy.push", source="/policy", subject=f"legal_entity:{push.credit_code}",
            data=payload.model_dump(mode="json")))
    campaign.new_pushes = len(pushes)
    campaign.notified_accounts = sum(p.notified_accounts for p in pushes)
    campaign.grants = len(pushes) if policy.no_application else 0
    campaign.granted_yuan = granted
    session.flush()
    audit.record(session, actor=actor, action="policy.push", subject=f"policy:{policy.code}",
                 details={"campaign": campaign.id, "qualified": campaign.qualified, "new_pushes": campaign.new_pushes,
                          "grants": campaign.grants})
    return campaign


def list_campaigns(session: Session, *, page: PageParams, policy_id: int | None = None) -> tuple[list[PushCampaign], int]:
    statement: Select[PushCampaign] = select(PushCampaign)
    if policy_id is not None:
        statement = statement.where(PushCampaign.policy_id == policy_id)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(PushCampaign.id.desc()).limit(page.limit).offset(page.offset)).all()
    return list(rows), int(total)


def list_pushes(
    session: Session, *, principal: Principal, page: PageParams, policy_id: int | None = None,
    credit_code: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Staff with ``policy:read`` see every push; an enterprise only the pushes to its own credit code."""
    if not principal.has("policy:read"):
        if principal.kind != "enterprise" or not principal.credit_code:
            raise Forbidden("only enterprise accounts and policy staff see pushes")
        if credit_code not in (None, principal.credit_code):
            raise Forbidden("an enterprise sees only its own pushes")
        credit_code = principal.credit_code
    statement = _push_query()
    if policy_id is not None:
        statement = statement.where(PolicyPush.policy_id == policy_id)
    if credit_code is not None:
        statement = statement.where(PolicyPush.credit_code == credit_code)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(statement.order_by(PolicyPush.pushed_at.desc(), PolicyPush.id.desc())
                           .limit(page.limit).offset(page.offset)).all()
    return [_push_item(*row) for row in rows], int(total)


def _push_query() -> Select[PolicyPush, str, str, int | None]:
    return (select(PolicyPush, Policy.code, Policy.title, BenefitGrant.amount_yuan)
            .join(Policy, Policy.id == PolicyPush.policy_id)
            .outerjoin(BenefitGrant, BenefitGrant.push_id == PolicyPush.id))


def _push_item(push: PolicyPush, code: str, title: str, amount: int | None) -> dict[str, Any]:
    return {"id": push.id, "policy_id": push.policy_id, "policy_code": code, "policy_title": title,
            "credit_code": push.credit_code, "pushed_at": push.pushed_at, "reasons": push.reasons,
            "notified_accounts": push.notified_accounts, "feedback": push.feedback, "feedback_at": push.feedback_at,
            "granted_yuan": amount}


def push_view(session: Session, *, push_id: int) -> dict[str, Any]:
    row = session.execute(_push_query().where(PolicyPush.id == push_id)).first()
    if row is None:
        raise NotFound(f"no push {push_id}")
    return _push_item(*row)


def give_feedback(session: Session, *, principal: Principal, push_id: int, useful: bool, note: str = "") -> PolicyPush:
    """The enterprise says whether a push was useful; changing one's mind overwrites the earlier answer."""
    push = session.get(PolicyPush, push_id)
    if push is None or principal.kind != "enterprise" or push.credit_code != principal.credit_code:
        raise NotFound(f"no push {push_id} to your enterprise")  # no hint that another enterprise's push exists
    push.feedback = "useful" if useful else "not_useful"
    push.feedback_at = utcnow()
    push.feedback_note = note.strip()
    session.flush()
    audit.record(session, actor=principal, action="policy.feedback", subject=f"policy_push:{push.id}",
                 details={"feedback": push.feedback})
    return push


# ---- figures ---------------------------------------------------------------------------------

def month_start(now: datetime | None = None) -> datetime:
    return (now or utcnow()).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def pushes_this_month(session: Session) -> int:
    return int(session.scalar(select(func.count(PolicyPush.id)).where(PolicyPush.pushed_at >= month_start())) or 0)


def granted_wan_this_month(session: Session) -> float:
    total = session.scalar(select(func.coalesce(func.sum(BenefitGrant.amount_yuan), 0))
                           .where(BenefitGrant.granted_at >= month_start())) or 0
    return round(int(total) / 10_000, 1)


def stats(session: Session) -> dict[str, Any]:
    def count(statement: Any) -> int:
        return int(session.scalar(statement) or 0)

    pushes = count(select(func.count(PolicyPush.id)))
    useful = count(select(func.count(PolicyPush.id)).where(PolicyPush.feedback == "useful"))
    not_useful = count(select(func.count(PolicyPush.id)).where(PolicyPush.feedback == "not_useful"))
    feedback = useful + not_useful
    return {
        "policies": count(select(func.count(Policy.id))),
        "published": count(select(func.count(Policy.id)).where(Policy.status == "published")),
        "no_application_policies": count(select(func.count(Policy.id)).where(Policy.no_application.is_(True))),
        "pushes": pushes, "pushes_this_month": pushes_this_month(session),
        "enterprises_reached": count(select(func.count(func.distinct(PolicyPush.credit_code)))),
        "feedback": feedback, "useful": useful, "not_useful": not_useful,
        "precision": round(useful / feedback, 4) if feedback else None,
        "feedback_rate": round(feedback / pushes, 4) if pushes else None,
        "grants": count(select(func.count(BenefitGrant.id))),
        "granted_yuan": count(select(func.coalesce(func.sum(BenefitGrant.amount_yuan), 0))),
        "granted_yuan_this_month": count(select(func.coalesce(func.sum(BenefitGrant.amount_yuan), 0))
                                         .where(BenefitGrant.granted_at >= month_start())),
    }
