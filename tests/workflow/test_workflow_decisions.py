"""秒批 decision tables against labelled sets built from the rules' boundaries (100% required)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xingcheng.core.auth import SYSTEM
from xingcheng.workflow import engine, service

PROCESSES = Path(__file__).parents[2] / "src/xingcheng/workflow/processes"

# Boundary values: each threshold, one below, one above, plus extremes.
AGES = [0, 15, 16, 17, 30, 49, 50, 51, 59, 60, 61, 75, 90, 100]
DIVISIONS = ["430102", "430181", "430100", "431102", "110101"]  # 长沙 districts/city, 株洲-like, 北京
MONTHS = [0, 1, 12, 180]
FUND_STATUS = ["none", "active", "sealed", "closed"]
BALANCES = [-1, 0, 1, 500_000]
PERMITS = ["not_needed", "valid", "expired"]


def in_changsha(division: str) -> bool:
    return division.startswith("4301")


# The labels: the rules written again independently of the DMN files, as a clerk reads them.
def hrss_label(c: dict[str, Any]) -> str:
    if c["age"] < 16:
        return "age_under_16"
    if c["age"] >= 60:
        return "age_60_or_over"
    if c["social_insurance_months"] > 0:
        return "already_insured"
    return "approve" if in_changsha(c["division_code"]) else "outside_city"


def hpf_label(c: dict[str, Any]) -> str:
    if not c["retired"]:
        return "not_retired"
    if c["age"] < 50:
        return "age_under_50"
    if c["housing_fund_status"] not in ("active", "sealed"):
        return "no_account"
    if c["housing_fund_balance_cents"] <= 0:
        return "zero_balance"
    return "approve" if in_changsha(c["division_code"]) else "outside_city"


def ca_label(c: dict[str, Any]) -> str:
    if c["age"] < 60:
        return "age_under_60"
    if not in_changsha(c["division_code"]):
        return "outside_city"
    return "permit_expired" if c["residence_permit_status"] == "expired" else "approve"


def cases(**axes: list[Any]) -> Iterator[dict[str, Any]]:
    names = list(axes)
    for values in itertools.product(*axes.values()):
        yield dict(zip(names, values, strict=True))


TABLES: dict[str, tuple[Callable[[dict[str, Any]], str], list[dict[str, Any]]]] = {
    "cs_hrss_auto": (hrss_label, list(cases(age=AGES, social_insurance_months=MONTHS, division_code=DIVISIONS))),
    "cs_hpf_auto": (hpf_label, list(cases(retired=[True, False], age=AGES, housing_fund_status=FUND_STATUS,
                                          housing_fund_balance_cents=BALANCES, division_code=DIVISIONS))),
    "cs_ca_auto": (ca_label, list(cases(age=AGES, division_code=DIVISIONS, residence_permit_status=PERMITS))),
}


@pytest.mark.parametrize("key", sorted(TABLES))
def test_labelled_set_is_decided_100_percent(key):
    label, labelled = TABLES[key]
    spec = engine.parse_decision((PROCESSES / f"{key}.dmn").read_text())
    assert len(labelled) >= 200
    wrong = []
    for case in labelled:
        outcome = engine.decide(spec, case)
        expected = label(case)
        got = outcome.matched_rules[0]["id"]
        decision = outcome.result["decision"]
        if got != expected or decision != ("approve" if expected == "approve" else "manual"):
            wrong.append((case, expected, got))
    assert not wrong, f"{len(wrong)}/{len(labelled)} wrong, e.g. {wrong[:3]}"
    # The set reaches every rule, so a rule that never fires cannot hide.
    assert {label(c) for c in labelled} == {r.id for r in spec.table.rules}


def test_age_boundaries_exactly():
    ca = engine.parse_decision((PROCESSES / "cs_ca_auto.dmn").read_text())
    base = {"division_code": "430104", "residence_permit_status": "not_needed"}
    assert engine.decide(ca, {**base, "age": 60}).result["decision"] == "approve"
    assert engine.decide(ca, {**base, "age": 59}).result == {"decision": "manual", "reason": "未满60周岁"}


BPMN_CALLING_DMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="instant_ca" name="优待证秒批" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="person"/>
    <bpmn:scriptTask id="person"><bpmn:script>p = identity_check(id_number)
age = p["age"]
division_code = p["division_code"]
residence_permit_status = p["residence_permit_status"]
via_task = call_dmn("cs_ca_auto", age=age, division_code=division_code,
                    residence_permit_status=residence_permit_status)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="person" targetRef="rules"/>
    <bpmn:businessRuleTask id="rules">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>cs_ca_auto</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f3" sourceRef="rules" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_bpmn_calls_decisions_both_ways(db):
    from workflow_builders import some_person

    person = some_person(db)
    definition = service.deploy(db, content=BPMN_CALLING_DMN, actor=SYSTEM)
    assert definition.key == "instant_ca" and definition.version == 1
    instance = service.start_instance(db, process_key="instant_ca", actor=SYSTEM,
                                      variables={"id_number": person.id_number})
    assert instance.status == "completed"
    variables = instance.variables
    expected = ca_label(variables)
    assert variables["via_task"]["matched_rule"]["id"] == expected
    assert variables["decision"] == variables["via_task"]["result"]["decision"]  # business-rule task agrees


def test_instant_approval_process_approves_or_routes_with_the_reason(db):
    from sqlalchemy import select
    from workflow_builders import clerk_of

    from xingcheng.datahub.registries.models import Person
    from xingcheng.workflow import inbox
    from xingcheng.workflow.models import WorkflowTask
    from xingcheng.workflow.tasks import age_on

    service.deploy_shipped(db)  # the demo template may predate this process
    today = __import__("datetime").date.today()
    persons = db.scalars(select(Person).order_by(Person.id).limit(400)).all()
    older = next(p for p in persons if age_on(p.birth_date, today) >= 60 and p.residence_permit_status != "expired")
    younger = next(p for p in persons if age_on(p.birth_date, today) < 60)
    approved = service.start_instance(db, process_key="instant_approval", actor=SYSTEM, variables={
        "decision_key": "cs_ca_auto", "id_number": older.id_number, "department": "mz"})
    assert approved.status == "completed" and approved.variables["outcome"] == "approved"
    manual = service.start_instance(db, process_key="instant_approval", actor=SYSTEM, variables={
        "decision_key": "cs_ca_auto", "id_number": younger.id_number, "department": "mz"})
    assert manual.status == "running" and manual.current_tasks == ["manual_review"]
    assert manual.variables["reason"] == "未满60周岁"
    assert manual.variables["verdict"]["matched_rule"]["id"] == "age_under_60"
    task = db.scalars(select(WorkflowTask).where(WorkflowTask.instance_id == manual.id)).one()
    inbox.complete_task(db, task_id=task.id, principal=clerk_of("mz"), variables={"approved": False})
    assert manual.status == "completed" and manual.variables["outcome"] == "rejected"
