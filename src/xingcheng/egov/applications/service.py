"""Applications: submit (validated, 免提交, idempotent), read, withdraw, 补正, rate; the workflow runs each one.

The application row is what the applicant sees; its workflow instance is what the departments work
on. After every step the application is synchronised from its instance (outcome, licences issued).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.db import holds_write_lock, utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.egov.applications import forms, materials
from xingcheng.egov.applications.models import Application, ApplicationEvent, ApplicationMaterial, ApplicationRating
from xingcheng.egov.applications.schemas import ApplicationSubmit, CorrectionSubmit
from xingcheng.egov.services.service import ItemFacts, item_facts, item_facts_or_raise
from xingcheng.workflow import inbox
from xingcheng.workflow import service as workflow
from xingcheng.workflow.models import WorkflowInstance, WorkflowTask

FINISHED = ("approved", "rejected")
CLOSED = (*FINISHED, "withdrawn")
# 企业开办“一件事”: the five items one enterprise-start application handles together.
ENTERPRISE_START_ITEMS = ("CS-SCJ-0001", "CS-GAJ-0021", "CS-SWJ_TAX-0001", "CS-SBJ-0001", "CS-GJJ-0001")
# What an approved application delivers into the e-licence library: (licence type, its name) per item.
RESULT_LICENCES: dict[str, tuple[str, str]] = {
    "CS-CA-AUTO": ("senior_citizen_card", "老年人优待证"),
    "CS-HRSS-AUTO": ("insurance_enrolment", "社会保险参保登记凭证"),
    "CS-HPF-AUTO": ("housing_fund_withdrawal", "住房公积金提取凭证"),
}
STATUS_LABELS = {"submitted": "已提交", "in_review": "审批中", "correction_requested": "待补正", "approved": "已办结（准予）",
                 "rejected": "已办结（不予）", "withdrawn": "已撤回"}


def process_of(item: ItemFacts) -> str:
    """The catalogue's process link for ``item`` (enterprise start only for the five bundled items)."""
    link = item.process_key or "generic"
    if link == "enterprise-start" and item.code not in ENTERPRISE_START_ITEMS:
        return "generic"
    return link


def engine_process(link: str) -> tuple[str, dict[str, Any]]:
    """The BPMN process id (and extra variables) behind a catalogue process link."""
    if link == "enterprise-start":
        return "enterprise_start", {}
    if link.startswith("instant-"):
        return "instant_approval", {"decision_key": link.removeprefix("instant-").lower().replace("-", "_")}
    return "generic_service_item", {}


def add_working_days(start: datetime, days: int) -> datetime:
    moment, left = start, max(days, 1)
    while left:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def applicant_of(principal: Principal) -> tuple[str, str]:
    if principal.kind == "citizen" and principal.id_number:
        return "citizen", principal.id_number
    if principal.kind == "enterprise" and principal.credit_code:
        return "enterprise", principal.credit_code
    raise Forbidden("only a citizen or enterprise account linked to the registries can apply")


def _event(session: Session, application: Application, action: str, actor: str, note: str = "", **details: Any) -> None:
    application.events.append(ApplicationEvent(action=action, actor=actor[:64], note=note, details=details))


def _tell_applicant(session: Session, application: Application, title: str, body: str) -> None:
    notify(session, source="applications", data=NotificationCreate(
        recipient_kind="account", recipient_key=str(application.applicant_account_id), title=title, body=body,
        link=f"/portal/applications/{application.number}", channels=["in_app", "event"]))


# ---- what an application needs -----------------------------------------------------------------

def bundle(session: Session, item: ItemFacts) -> list[ItemFacts]:
    if process_of(item) != "enterprise-start":
        return [item]
    return [found for code in ENTERPRISE_START_ITEMS if (found := item_facts(session, code=code)) is not None]


def _audience_check(item: ItemFacts, kind: str) -> None:
    if process_of(item) == "enterprise-start":
        return  # founders apply as persons before the company exists; companies may open branches
    if kind == "citizen" and not item.for_person:
        raise Forbidden(f"{item.name} is for legal entities (法人), not individuals")
    if kind == "enterprise" and not item.for_enterprise:
        raise Forbidden(f"{item.name} is for individuals (个人), not legal entities")


def needs_for(session: Session, *, item: ItemFacts, principal: Principal,
              applicant: materials.Applicant | None = None) -> tuple[list[materials.Need], int]:
    if applicant is None:
        kind, key = applicant_of(principal)
        applicant = materials.load_applicant(session, kind=kind, key=key, fallback_name=principal.name)
    items = bundle(session, item)
    produced = ("营业执照",) if process_of(item) == "enterprise-start" else ()
    needs = materials.plan(session, items=items, applicant=applicant, produced=produced)
    return needs, sum(1 for i in items for m in i.materials if m.required)


def form_for(session: Session, *, code: str, principal: Principal) -> dict[str, Any]:
    item = item_facts_or_raise(session, code=code)
    _audience_check(item, applicant_of(principal)[0])
    needs, required = needs_for(session, item=item, principal=principal)
    link = process_of(item)
    return {"item_code": item.code, "item_name": item.name, "process_key": link,
            "fields": [vars(f) for f in forms.fields_for(link)],
            "materials": [{"item_code": n.item_code, "name": n.name, "provision": n.provision, "reference": n.reference}
                          for n in needs],
            "materials_required": required, "materials_to_provide": materials.provided_count(needs)}


# ---- submit ------------------------------------------------------------------------------------

def request_hash(data: ApplicationSubmit) -> str:
    return hashlib.sha256(json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _replay(session: Session, *, account_id: int, key: str, digest: str) -> Application | None:
    existing = session.scalar(select(Application).where(Application.applicant_account_id == account_id,
                                                        Application.idempotency_key == key))
    if existing is not None and existing.request_hash != digest:
        raise Invalid("this Idempotency-Key was already used for a different request", errors=[{
            "in": "header", "field": "Idempotency-Key", "pointer": "/headers/Idempotency-Key",
            "message": "reused with a different body", "type": "idempotency_key_reused"}])
    return existing


def _validate(session: Session, *, link: str, item: ItemFacts, form: dict[str, Any], given: Sequence[Any],
              needs: list[materials.Need], applicant: materials.Applicant, account_id: int) -> dict[str, Any]:
    cleaned, problems = forms.validate_form(link, form)
    if link == "enterprise-start" and "division_code" in cleaned:
        from xingcheng.core.identity.models import Division

        if session.get(Division, cleaned["division_code"]) is None:
            problems.append({"in": "body", "field": "form.division_code", "pointer": "/form/division_code",
                             "message": "住所所在区县：不是长沙市的区县代码", "type": "invalid"})
    problems += materials.attach(session, needs=needs, given=given, applicant=applicant, account_id=account_id)
    if problems:
        raise Invalid(f"the application has {len(problems)} problem(s): "
                      + "; ".join(str(p["message"]) for p in problems[:10]), errors=problems)
    return cleaned


def submit(session: Session, *, principal: Principal, data: ApplicationSubmit, idempotency_key: str | None = None
           ) -> tuple[Application, bool]:
    """Validate, record and start the item's process; (application, replayed). Same key + same body → same one."""
    kind, key = applicant_of(principal)
    if principal.account_id is None:
        raise Forbidden("applications are made from an account")
    digest = request_hash(data)
    if idempotency_key and (existing := _replay(session, account_id=principal.account_id, key=idempotency_key,
                                                digest=digest)) is not None:
        return existing, True
    item = item_facts_or_raise(session, code=data.item_code)
    _audience_check(item, kind)
    if not item.online:
        raise Conflict(f"{item.name} cannot be applied for online; see the guide for the service window")
    applicant = materials.load_applicant(session, kind=kind, key=key, fallback_name=principal.name)
    link = process_of(item)
    needs, required = needs_for(session, item=item, principal=principal, applicant=applicant)
    cleaned = _validate(session, link=link, item=item, form=data.form, given=data.materials, needs=needs,
                        applicant=applicant, account_id=principal.account_id)
    now = utcnow()
    application = Application(
        number=f"XC{now:%Y%m%d}-{secrets.token_hex(4).upper()}", item_code=item.code, item_name=item.name,
        department_code=item.department_code, process_key=link, applicant_account_id=principal.account_id,
        applicant_kind=kind, applicant_key=key, applicant_name=applicant.name[:128], status="submitted", form=cleaned,
        materials_required=required, materials_provided=materials.provided_count(needs),
        visits=0 if link == "enterprise-start" else item.max_visits, submitted_at=now,
        due_at=add_working_days(now, item.promised_days), idempotency_key=idempotency_key, request_hash=digest,
        materials=[ApplicationMaterial(position=i, item_code=n.item_code, name=n.name, provision=n.provision or "upload",
                                       reference=n.reference, upload_id=n.upload_id) for i, n in enumerate(needs)],
    )
    # Nothing can race the replay check above (no key, or SQLite's write lock held since it): the row is
    # added once its process has started, so it is inserted with its instance id, not updated after.
    add_later = not idempotency_key or holds_write_lock(session)
    if idempotency_key and not add_later:
        try:
            with session.begin_nested():
                session.add(application)
                session.flush()
        except IntegrityError:  # the same Idempotency-Key raced in from another request and won
            if (won := _replay(session, account_id=principal.account_id, key=idempotency_key,
                               digest=digest)) is not None:
                return won, True
            raise
    _event(session, application, "submit", "申请人", f"提交申请（需提供材料 {application.materials_provided} 项，"
           f"共需材料 {required} 项）")
    audit.record(session, actor=principal, action="applications.submit", subject=f"application:{application.number}",
                 purpose="service-application", details={"item": item.code, "process": link})
    _start(session, application, item=item, principal=principal, key=key, cleaned=cleaned)
    if add_later:
        session.add(application)
    _tell_applicant(session, application, "申请已提交", f"您的“{item.name}”申请（{application.number}）已提交。")
    session.flush()  # the unit of work's one write of the rest: the answer shows the rows as stored
    return application, False


def _start(session: Session, application: Application, *, item: ItemFacts, principal: Principal, key: str,
           cleaned: dict[str, Any]) -> None:
    process, extra = engine_process(application.process_key)
    licence_type, licence_name = RESULT_LICENCES.get(item.code, ("service_result", f"{item.name}（办理结果）"[:64]))
    variables: dict[str, Any] = {
        **cleaned, **extra, "item_code": item.code, "item_name": item.name, "department": item.department_code,
        "applicant_account": application.applicant_account_id, "applicant_name": application.applicant_name,
        "application_number": application.number, "holder_id": key, "holder_name": application.applicant_name,
        "result_licence_type": licence_type, "result_licence_name": licence_name,
        ("id_number" if application.applicant_kind == "citizen" else "credit_code"): key,
    }
    instance = workflow.start_instance(session, process_key=process, actor=principal, variables=variables,
                                       business_key=application.number)
    application.instance, application.instance_id = instance, instance.id
    if process == "instant_approval" and instance.status == "running":  # 秒批 rules failed: say which one
        rule = (instance.variables.get("verdict") or {}).get("matched_rule") or {}
        application.decision_reason = str(instance.variables.get("reason") or "")[:1000]
        _event(session, application, "manual_review", "秒批规则", f"转人工审核：{application.decision_reason}",
               rule=rule.get("id"))
    sync(session, application, instance=instance)


def sync(session: Session, application: Application, *, instance: WorkflowInstance | None = None) -> Application:
    """Bring the application up to date with its workflow instance (outcome, reason, licences)."""
    if application.instance_id is None or application.status in CLOSED:
        return application
    instance = instance or session.get(WorkflowInstance, application.instance_id)
    if instance is None or instance.status != "completed":
        return application
    variables = instance.variables
    outcome = "approved" if variables.get("outcome") == "approved" else "rejected"
    application.status, application.outcome = outcome, outcome
    application.completed_at = instance.completed_at or utcnow()
    application.result_licences = [str(n) for n in variables.get("licences") or []]
    application.decision_reason = str(variables.get("reason") or "")[:1000]
    if outcome == "approved":
        note = "办结：准予。电子证照：" + ("、".join(application.result_licences) or "无")
    else:
        note = "办结：不予。理由：" + (application.decision_reason or "见决定书")
    _event(session, application, outcome, "系统", note, licences=application.result_licences)
    session.flush()
    return application


# ---- read --------------------------------------------------------------------------------------

def get_or_raise(session: Session, *, number: str) -> Application:
    application = session.scalar(select(Application).where(Application.number == number)
                                 .options(selectinload(Application.materials)))
    if application is None:
        raise NotFound(f"no application {number}")
    return application


def authorize_read(session: Session, application: Application, principal: Principal) -> None:
    """The applicant, city-wide staff, and staff of a department the application is with may read it."""
    if principal.account_id is not None and principal.account_id == application.applicant_account_id:
        return
    if principal.has("applications:read"):
        if principal.has("workflow:admin") or principal.has("registries:write"):
            return
        if principal.department_code == application.department_code:
            return
        if principal.department_code in {t.department_code for t in tasks_of(session, application=application)}:
            return
    raise NotFound(f"no application {application.number}")  # do not confirm that someone else's exists


def read(session: Session, *, number: str, principal: Principal) -> Application:
    application = get_or_raise(session, number=number)
    authorize_read(session, application, principal)
    return sync(session, application)


def list_mine(session: Session, *, principal: Principal, page: PageParams, status: str | None = None
              ) -> tuple[list[Application], int]:
    statement: Select[Application] = select(Application).where(
        Application.applicant_account_id == principal.account_id).order_by(Application.id.desc())
    if status:
        statement = statement.where(Application.status == status)
    return paginate(session, statement, page)


def list_for_staff(session: Session, *, principal: Principal, page: PageParams, status: str | None = None,
                   item_code: str | None = None) -> tuple[list[Application], int]:
    statement: Select[Application] = select(Application).order_by(Application.id.desc())
    if not (principal.has("workflow:admin") or principal.has("registries:write")):
        statement = statement.where(Application.department_code == principal.department_code)
    if status:
        statement = statement.where(Application.status == status)
    if item_code:
        statement = statement.where(Application.item_code == item_code)
    return paginate(session, statement, page)


def timeline(session: Session, *, application: Application) -> list[ApplicationEvent]:
    return list(application.events)  # in id order: loaded ordered, new ones appended


def tasks_of(session: Session, *, application: Application) -> list[WorkflowTask]:
    if application.instance_id is None:
        return []
    return workflow.instance_tasks(session, instance_id=application.instance_id)


def rating_of(session: Session, *, application: Application) -> int | None:
    if application.status not in CLOSED:
        return None  # rated only after completion
    return session.scalar(select(ApplicationRating.score).where(ApplicationRating.application_id == application.id))


# ---- applicant actions -------------------------------------------------------------------------

def bump(session: Session, application: Application) -> None:
    """Optimistic lock on the application: of two concurrent state changes one wins, the other gets 409."""
    seen = application.version
    result = session.execute(update(Application).where(Application.id == application.id, Application.version == seen)
                             .values(version=seen + 1, updated_at=utcnow())
                             .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict("the application changed meanwhile; reload it")
    application.version = seen + 1


def _own(application: Application, principal: Principal) -> None:
    if principal.account_id != application.applicant_account_id:
        raise NotFound(f"no application {application.number}")


def withdraw(session: Session, *, number: str, principal: Principal, reason: str) -> Application:
    application = get_or_raise(session, number=number)
    _own(application, principal)
    sync(session, application)
    if application.status in CLOSED:
        raise Conflict(f"the application is already {application.status} and cannot be withdrawn")
    bump(session, application)
    if application.instance_id is not None:
        workflow.cancel_instance(session, instance_id=application.instance_id, actor=principal, reason=reason)
    application.status, application.completed_at = "withdrawn", utcnow()
    _event(session, application, "withdraw", "申请人", f"撤回申请：{reason}")
    audit.record(session, actor=principal, action="applications.withdraw", subject=f"application:{number}")
    session.flush()
    return application


def resubmit(session: Session, *, number: str, principal: Principal, data: CorrectionSubmit) -> Application:
    """补正: the applicant changes form fields and replaces materials; the waiting task returns to the inbox."""
    application = get_or_raise(session, number=number)
    _own(application, principal)
    if application.status != "correction_requested":
        raise Conflict(f"the application is {application.status}; nothing to correct")
    kind, key = applicant_of(principal)
    applicant = materials.load_applicant(session, kind=kind, key=key, fallback_name=principal.name)
    needs = [materials.Need(m.item_code, m.name, None if m.provision in ("upload", "e_licence") else m.provision,
                            m.reference, m.upload_id) for m in application.materials]
    keep = {m.name: m for m in application.materials}
    given_names = {m.name for m in data.materials}
    for need in needs:  # materials not sent again keep what was provided before
        if need.provision is None and need.name not in given_names:
            need.provision, need.reference, need.upload_id = keep[need.name].provision, keep[need.name].reference, \
                keep[need.name].upload_id
    merged = {**application.form, **data.form}
    cleaned = _validate(session, link=application.process_key, item=item_facts_or_raise(session, code=application.item_code),
                        form=merged, given=data.materials, needs=needs, applicant=applicant,
                        account_id=principal.account_id or 0)
    bump(session, application)
    application.form = cleaned
    for row, need in zip(application.materials, needs, strict=True):
        row.provision, row.reference, row.upload_id = need.provision or "upload", need.reference, need.upload_id
    for task in tasks_of(session, application=application):
        if task.status == "waiting":
            inbox.resume_task(session, task_id=task.id, actor=principal)
    application.status, application.correction_note = "in_review", ""
    _event(session, application, "resubmit", "申请人", "已补正材料，重新提交审查",
           fields=sorted(data.form), materials=sorted(given_names))
    audit.record(session, actor=principal, action="applications.resubmit", subject=f"application:{number}")
    notify(session, source="applications", data=NotificationCreate(
        recipient_kind="department", recipient_key=application.department_code, title=f"补正材料已提交：{application.number}",
        body=f"“{application.item_name}”的申请人已补正，请继续审查。"))
    session.flush()
    return application


def rate(session: Session, *, number: str, principal: Principal, score: int, comment: str) -> ApplicationRating:
    """好差评 once per finished application."""
    application = get_or_raise(session, number=number)
    _own(application, principal)
    sync(session, application)
    if application.status not in FINISHED:
        raise Conflict("an application can be rated once it is finished")
    rating = ApplicationRating(application_id=application.id, item_code=application.item_code,
                               department_code=application.department_code, score=score, comment=comment.strip())
    try:
        with session.begin_nested():
            session.add(rating)
            session.flush()
    except IntegrityError:
        raise Conflict("this application has already been rated") from None
    _event(session, application, "rate", "申请人", f"评价：{score} 星")
    audit.record(session, actor=principal, action="applications.rate", subject=f"application:{number}",
                 details={"score": score})
    return rating
