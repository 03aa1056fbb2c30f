"""Applications below HTTP: 秒批 through the catalogue, the enterprise-start measurement, KPIs from records,
restart safety, forms and 免提交 counting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from xingcheng.core.auth import Principal, Role
from xingcheng.datahub.registries.models import Licence, Person
from xingcheng.egov.applications import demo, forms, kpis, service, staff
from xingcheng.egov.applications.schemas import ApplicationSubmit
from xingcheng.workflow import engine
from xingcheng.workflow.tasks import age_on


def resident(session, *, senior: bool) -> Person:
    today = datetime.now(UTC).date()
    for person in session.scalars(select(Person).where(Person.residence_permit_status != "expired")
                                  .order_by(Person.id).limit(500)):
        if (age_on(person.birth_date, today) >= 60) == senior and person.division_code.startswith("4301"):
            return person
    raise AssertionError("the demo city has no such resident")


def apply_ca(session, person: Person, account_id: int):
    principal = demo.citizen(person, account_id)
    data = ApplicationSubmit.model_validate({"item_code": "CS-CA-AUTO", "form": {"contact_phone": "13900000001"},
                                             "materials": demo.provide(session, principal, "CS-CA-AUTO")})
    return service.submit(session, principal=principal, data=data)[0]


def test_senior_card_is_approved_instantly_with_an_e_licence(any_db):
    application = apply_ca(any_db, resident(any_db, senior=True), 990_001)
    assert application.status == "approved" and application.completed_at is not None
    licence = any_db.scalar(select(Licence).where(Licence.number == application.result_licences[0]))
    assert licence.licence_type == "senior_citizen_card" and licence.holder_id == application.applicant_key


def test_younger_applicant_goes_to_manual_review_with_the_failed_rule(any_db):
    application = apply_ca(any_db, resident(any_db, senior=False), 990_002)
    assert application.status == "submitted" and application.decision_reason == "未满60周岁"
    events = service.timeline(any_db, application=application)
    assert events[-1].action == "manual_review" and events[-1].details["rule"] == "age_under_60"
    task = service.tasks_of(any_db, application=application)[0]
    assert task.department_code == "mz" and task.task_spec == "manual_review"
    done = staff.decide(any_db, task_id=task.id, clerk=demo.clerk("mz"), action="reject", reason="未满60周岁")
    assert done.status == "rejected" and done.result_licences == []


def test_enterprise_start_meets_the_goals_on_simulated_clerk_times(db):
    founder = resident(db, senior=False)
    run = demo.enterprise_start(db, founder, 990_003, name="长沙橘洲测试科技有限公司", start=demo.SIM_START)
    application = run.application
    assert application.status == "approved" and len(application.result_licences) == 5
    assert application.materials_provided <= 5 and application.materials_required >= 15
    branches = [(task, done - ready) for task, ready, done in run.tasks]
    assert {t for t, _ in branches} == {"market_registration", "seal_filing", "tax_registration",
                                        "employer_social_insurance", "employer_housing_fund"}
    assert all(ready == 0 for _t, ready, _d in run.tasks)  # the five departments start together
    assert run.elapsed_hours == max(hours for _t, hours in branches) < demo.WORKING_DAY_HOURS
    baseline = demo.sequential_baseline(branches)
    assert baseline["sequential_clerk_hours"] == sum(hours for _t, hours in branches) > run.elapsed_hours
    assert baseline["sequential_with_visits_hours"] > 4 * demo.WORKING_DAY_HOURS


def test_kpis_are_computed_from_the_records(db):
    before = kpis.compute(db)
    application = apply_ca(db, resident(db, senior=True), 990_004)
    principal = Principal(kind="citizen", name="x", account_id=990_004, roles=frozenset({Role.CITIZEN}),
                          id_number=application.applicant_key)
    service.rate(db, number=application.number, principal=principal, score=1, comment="测试差评")
    after = kpis.compute(db)
    assert after["applications"] == before["applications"] + 1 and after["finished"] == before["finished"] + 1
    assert after["ratings"] == before["ratings"] + 1
    expected = (before["rating_avg"] or 0) * before["ratings"] + 1
    assert after["rating_avg"] == pytest.approx(round(expected / after["ratings"], 2))
    item = next(i for i in after["by_item"] if i["key"] == "CS-CA-AUTO")
    assert item["count"] >= 1 and item["on_time_rate"] is not None
    assert 0 < after["online_share"] <= 1 and after["materials_provided"] < after["materials_required"]


def test_running_applications_survive_a_restart(db):
    """Serialise, forget every parsed spec (a new process), then finish from the database alone."""
    founder = resident(db, senior=False)
    principal = demo.citizen(founder, 990_005)
    data = ApplicationSubmit.model_validate({"item_code": "CS-SCJ-0001", "form": demo.ENTERPRISE_FORM,
                                             "materials": demo.provide(db, principal, "CS-SCJ-0001")})
    application = service.submit(db, principal=principal, data=data)[0]
    tasks = service.tasks_of(db, application=application)
    engine.clear_cache()
    db.expire_all()
    for task in tasks[:2]:
        staff.decide(db, task_id=task.id, clerk=demo.clerk(task.department_code), action="approve")
    engine.clear_cache()
    db.expire_all()
    for task in tasks[2:]:
        staff.decide(db, task_id=task.id, clerk=demo.clerk(task.department_code), action="approve")
    assert service.read(db, number=application.number, principal=principal).status == "approved"


def test_form_validation_lists_each_problem():
    cleaned, problems = forms.validate_form("enterprise-start", {
        "contact_phone": "138 7480 0000", "enterprise_name": "星辰科技", "division_code": "110101",
        "registered_capital_yuan": "abc", "employees": -1, "seal_count": 2, "industry_code": "I65"})
    assert cleaned["contact_phone"] == "13874800000" and cleaned["seal_count"] == 2
    fields = {p["field"]: p["type"] for p in problems}
    assert fields == {"form.enterprise_name": "invalid", "form.division_code": "invalid",
                      "form.registered_capital_yuan": "invalid", "form.employees": "invalid",
                      "form.address": "missing", "form.business_scope": "missing", "form.bank_name": "missing"}


def test_working_days_skip_weekends():
    friday = datetime(2026, 11, 27, 9, tzinfo=UTC)
    assert service.add_working_days(friday, 1).weekday() == 0  # Monday
    assert service.add_working_days(friday, 0) == service.add_working_days(friday, 1)  # 即办: by the next working day
    assert demo.at(demo.SIM_START, 12).day == 3 and demo.at(demo.SIM_START, 12).hour == 5


def test_bench_decision_timing_runs_every_table():
    """Smoke test of the benchmark's in-process part (the HTTP part needs a server and is not in the suite)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[3] / "bench" / "applications.py"
    spec = importlib.util.spec_from_file_location("bench_applications", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.decision_section()
    assert set(figures) == {"cs_hrss_auto", "cs_hpf_auto", "cs_ca_auto"}
    assert all(f["cases"] >= 50 and f["p99_us"] >= f["p50_us"] > 0 for f in figures.values())
