"""Demo: department clerks, and applications run end to end through the real workflow with simulated clerk
times — the enterprise start (five departments in parallel against the same five one after another),
秒批 for the three instant items, generic items, ratings. Times are working hours on a simulated clock
written onto the records, so the KPIs are computed from them like from real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal, Role
from xingcheng.core.identity import service as identity
from xingcheng.core.identity.models import Account, AccountRole
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.core.security import hash_password
from xingcheng.datahub.registries.models import Person
from xingcheng.egov.applications import service, staff, uploads
from xingcheng.egov.applications.models import Application, ApplicationEvent
from xingcheng.egov.applications.schemas import ApplicationSubmit
from xingcheng.egov.services.models import ServiceItem
from xingcheng.workflow.models import WorkflowTask
from xingcheng.workflow.tasks import age_on

# One clerk login per department the demo applications reach (password as the documented clerk's).
CLERKS = {"scj": "市场监管窗口", "gaj": "公安窗口", "swj_tax": "税务窗口", "rsj": "人社窗口", "gjj": "公积金窗口",
          "mz": "民政窗口", "sbj": "社保窗口"}
CLERK_PASSWORD = "Clerk@2026"
WORKING_DAY_HOURS = 8.0
# Simulated clerk handling time per task (working hours): registration takes longest.
CLERK_HOURS = {"market_registration": 3.0, "seal_filing": 1.0, "tax_registration": 1.5,
               "employer_social_insurance": 1.0, "employer_housing_fund": 1.0,
               "accept": 0.5, "review": 1.5, "decide": 0.5, "manual_review": 1.0}
SIM_START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Changsha (UTC+8)


def clerk(code: str, account_id: int = 0) -> Principal:
    return Principal(kind="staff", name=f"{code}_clerk", account_id=account_id or None,
                     roles=frozenset({Role.DEPARTMENT_STAFF}), department_code=code)


def citizen(person: Person, account_id: int) -> Principal:
    return Principal(kind="citizen", name=person.name, account_id=account_id, roles=frozenset({Role.CITIZEN}),
                     id_number=person.id_number)


@dataclass
class Run:
    application: Application
    elapsed_hours: float
    tasks: list[tuple[str, float, float]] = field(default_factory=list)  # (task, ready at, done at) in hours


def work_through(session: Session, application: Application, *, start: datetime, action: str = "approve") -> Run:
    """Let each department's clerk handle each ready task after its simulated time, in time order; parallel
    tasks are handled at the same time. Writes the simulated times onto the records."""
    ready_at: dict[int, float] = {}
    run = Run(application, 0.0)
    now = 0.0
    while application.status not in service.CLOSED:
        open_tasks = list(session.scalars(select(WorkflowTask).where(
            WorkflowTask.instance_id == application.instance_id, WorkflowTask.status.in_(("open", "claimed")))))
        if not open_tasks:
            break
        for task in open_tasks:
            ready_at.setdefault(task.id, now)
        task = min(open_tasks, key=lambda t: (ready_at[t.id] + CLERK_HOURS.get(t.task_spec, 1.0), t.id))
        now = ready_at[task.id] + CLERK_HOURS.get(task.task_spec, 1.0)
        staff.decide(session, task_id=task.id, clerk=clerk(task.department_code), action=action,
                     reason="" if action == "approve" else "材料不符合法定形式")
        run.tasks.append((task.task_spec, ready_at[task.id], now))
        session.execute(update(WorkflowTask).where(WorkflowTask.id == task.id).values(
            created_at=at(start, ready_at[task.id]), completed_at=at(start, now)))
    run.elapsed_hours = now
    application.submitted_at, application.completed_at = start, at(start, now)
    promised = session.scalar(select(ServiceItem.promised_days).where(ServiceItem.code == application.item_code))
    application.due_at = service.add_working_days(start, promised or 0)
    session.execute(update(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
                    .values(at=application.completed_at))
    session.flush()
    return run


def at(start: datetime, working_hours: float) -> datetime:
    """``working_hours`` after ``start`` on a clock of 8-hour working days (09:00–17:00, weekdays)."""
    days, hours = divmod(working_hours, WORKING_DAY_HOURS)
    moment = start
    for _ in range(int(days)):
        moment += timedelta(days=1)
        while moment.weekday() >= 5:
            moment += timedelta(days=1)
    return moment + timedelta(hours=hours)


ENTERPRISE_FORM: dict[str, str | int | None] = {
    "contact_phone": "13874800000", "enterprise_name": "长沙星辰数智科技有限公司", "division_code": "430104",
    "address": "长沙市岳麓区麓谷街道岳麓西大道588号芯城科技园3栋", "registered_capital_yuan": 1_000_000,
    "industry_code": "I65", "business_scope": "软件开发；信息技术咨询服务；数据处理和存储支持服务",
    "employees": 8, "seal_count": 4, "bank_name": "长沙银行岳麓支行",
}


def enterprise_start(session: Session, person: Person, account_id: int, *, name: str, start: datetime) -> Run:
    principal = citizen(person, account_id)
    data = ApplicationSubmit.model_validate({"item_code": "CS-SCJ-0001", "form": {**ENTERPRISE_FORM, "enterprise_name": name},
                                             "materials": provide(session, principal, "CS-SCJ-0001")})
    application, _ = service.submit(session, principal=principal, data=data)
    return work_through(session, application, start=start)


def sequential_baseline(runs: list[tuple[str, float]]) -> dict[str, float]:
    """The same five departments one after another: the next department starts when the applicant brings
    the previous result, i.e. the next working day (one visit per department per day)."""
    clerk_only = sum(hours for _task, hours in runs)
    with_visits = (len(runs) - 1) * WORKING_DAY_HOURS + runs[-1][1]
    return {"sequential_clerk_hours": clerk_only, "sequential_with_visits_hours": with_visits}


def create_clerks(session: Session) -> None:
    """``<department>_clerk`` logins with the documented clerk's password. Its hash is reused: Argon2 is slow
    on purpose, and seven more hashes would take the demo seconds (the salt is per hash, not per account)."""
    documented = identity.get_account_by_username(session, username="clerk")
    for code, window in CLERKS.items():
        department = identity.get_department_or_raise(session, code=code)
        account = Account(username=f"{code}_clerk", display_name=f"{window}工作人员", kind="staff",
                          password_hash=documented.password_hash if documented else hash_password(CLERK_PASSWORD),
                          department_id=department.id, role_links=[AccountRole(role=Role.DEPARTMENT_STAFF.value)])
        session.add(account)
        session.flush()
        audit.record(session, actor=SYSTEM, action="account.create", subject=f"account:{account.username}",
                     details={"kind": "staff", "roles": [Role.DEPARTMENT_STAFF.value]})


def load_applications(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("applications")
    create_clerks(session)
    citizen_account = identity.get_account_by_username(session, username="citizen")
    adults = list(session.scalars(select(Person).order_by(Person.id).limit(400)))
    founder = session.scalar(select(Person).where(Person.id_number == (citizen_account.id_number if citizen_account
                                                                        else adults[0].id_number))) or adults[0]
    account_id = citizen_account.id if citizen_account else 1
    run = enterprise_start(session, founder, account_id, name="长沙星辰数智科技有限公司", start=SIM_START)
    branches = [(t, done - ready) for t, ready, done in run.tasks]
    ctx.facts["enterprise_start"] = {
        "application": run.application.number, "licences": len(run.application.result_licences),
        "materials_required": run.application.materials_required,
        "materials_provided": run.application.materials_provided,
        "parallel_elapsed_hours": run.elapsed_hours, **sequential_baseline(branches),
    }
    instant = _instant_demo(session, rng, adults)
    ctx.facts["instant_approvals"] = instant
    _rate_all(session, rng)
    ctx.progress("applications", 1 + sum(instant.values()), 1 + sum(instant.values()))


def provide(session: Session, principal: Principal, code: str) -> list[dict[str, Any]]:
    """Upload a file for each material this applicant still has to provide (what the portal does)."""
    given: list[dict[str, Any]] = []
    for need in service.form_for(session, code=code, principal=principal)["materials"]:
        if need["provision"] is None:
            photo = "照片" in need["name"]
            upload = uploads.store(session, owner=principal, file_name=need["name"] + (".jpg" if photo else ".pdf"),
                                   content_type="image/jpeg" if photo else "application/pdf",
                                   content=(b"\xff\xd8\xff\xe0" if photo else b"%PDF-1.7 ") + need["name"].encode())
            given.append({"name": need["name"], "upload_id": upload.id})
    return given


def _instant_demo(session: Session, rng: Any, persons: list[Person]) -> dict[str, int]:
    """Senior-citizen cards for a sample of residents: approved instantly or routed with the reason."""
    counts = {"approved": 0, "manual": 0}
    today = datetime.now(UTC).date()
    seniors = [p for p in persons if age_on(p.birth_date, today) >= 60]
    others = [p for p in persons if age_on(p.birth_date, today) < 60]
    sample = rng.sample(seniors, min(5, len(seniors))) + rng.sample(others, min(3, len(others)))
    for index, person in enumerate(sample):
        principal = citizen(person, 100_000 + index)  # synthetic applicant accounts of the demo city
        data = ApplicationSubmit.model_validate({"item_code": "CS-CA-AUTO", "form": {"contact_phone": "13900000000"},
                                                 "materials": provide(session, principal, "CS-CA-AUTO")})
        application, _ = service.submit(session, principal=principal, data=data)
        start = SIM_START + timedelta(days=index % 5, hours=index)
        if application.status == "approved":
            application.submitted_at = application.completed_at = start
            application.due_at = service.add_working_days(start, 0)
            counts["approved"] += 1
        else:
            work_through(session, application, start=start)
            counts["manual"] += 1
    return counts


COMMENTS = {5: "全程网上办理，一次都没跑，点赞！", 4: "办理很快，材料说明清楚。", 3: "还行，希望短信提醒更及时。",
            2: "等待时间有点长。"}


def _rate_all(session: Session, rng: Any) -> None:
    """好差评 for the finished demo applications (scores drawn from the step's own stream)."""
    finished = session.scalars(select(Application).where(Application.status.in_(service.FINISHED))
                               .order_by(Application.id))
    for application in list(finished):
        score = rng.choice((5, 5, 5, 4, 4, 3, 2))
        principal = Principal(kind="citizen", name="applicant", account_id=application.applicant_account_id,
                              roles=frozenset({Role.CITIZEN}), id_number=application.applicant_key)
        service.rate(session, number=application.number, principal=principal, score=score, comment=COMMENTS[score])


DEMO_STEPS = [
    DemoStep("applications", load_applications,
             depends_on=("service_items", "workflow_definitions", "citizen_accounts", "staff_accounts"),
             description="clerks of seven departments; enterprise start and 秒批 applications run end to end"),
]
