"""Reusable service tasks: functions BPMN script tasks call by name (identity check, enterprise lookup,
fee, notify, call DMN). The engine runs scripts synchronously inside a service call, so the
caller's session and principal reach the functions through a context variable, never a global.

E-licences (``lookup_e_licence``, ``issue_e_licence``) go through the registry's licence library;
``reserve_credit_code`` and ``register_enterprise`` are market regulation's registration step.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.ids import CREDIT_CODE_ALPHABET, make_credit_code
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.datahub.registries import licences as licence_registry
from xingcheng.datahub.registries.models import LegalEntity
from xingcheng.datahub.registries.service import get_legal_entity, get_person


@dataclass(frozen=True)
class TaskContext:
    session: Session
    actor: Principal
    subject: str  # the instance, e.g. "workflow_instance:12", for audit entries


_CONTEXT: ContextVar[TaskContext | None] = ContextVar("xc_workflow_task_context", default=None)

SERVICE_TASKS: dict[str, Callable[..., Any]] = {}


def service_task(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``function`` under ``name`` for BPMN scripts."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        SERVICE_TASKS[name] = function
        return function

    return register


@contextmanager
def bound(context: TaskContext) -> Iterator[None]:
    token = _CONTEXT.set(context)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current() -> TaskContext:
    context = _CONTEXT.get()
    if context is None:
        raise RuntimeError("service tasks run only inside a workflow step (tasks.bound)")
    return context


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@service_task("identity_check")
def identity_check(id_number: str) -> dict[str, Any]:
    """The population registry's facts the rules need (JSON-safe, so the instance serialises)."""
    context = current()
    person = get_person(context.session, id_number=str(id_number))
    audit.record(context.session, actor=context.actor, action="workflow.identity_check", subject=context.subject,
                 purpose="service-application", result="found" if person else "not_found")
    if person is None:
        return {"found": False}
    return {
        "found": True, "age": age_on(person.birth_date, date.today()), "retired": person.retired,
        "social_insurance_months": person.social_insurance_months, "housing_fund_status": person.housing_fund_status,
        "housing_fund_balance_cents": person.housing_fund_balance_cents, "division_code": person.division_code,
        "residence_permit_status": person.residence_permit_status, "employment_status": person.employment_status,
    }


@service_task("enterprise_lookup")
def enterprise_lookup(credit_code: str) -> dict[str, Any]:
    context = current()
    entity = get_legal_entity(context.session, credit_code=str(credit_code))
    audit.record(context.session, actor=context.actor, action="workflow.enterprise_lookup", subject=context.subject,
                 purpose="service-application", result="found" if entity else "not_found")
    if entity is None:
        return {"found": False}
    return {"found": True, "name": entity.name, "status": entity.status, "entity_type": entity.entity_type,
            "division_code": entity.division_code, "industry_code": entity.industry_code}


# Administrative licensing in Hunan is free of charge unless the item is on the provincial fee list
# (行政事业性收费目录清单); the catalogue issue will load per-item fees. Amounts in fen.
FEES_CENTS: dict[str, int] = {}


@service_task("calculate_fee")
def calculate_fee(item_code: str, copies: int = 1) -> int:
    return FEES_CENTS.get(str(item_code), 0) * max(int(copies), 1)


@service_task("notify_applicant")
def notify_applicant(account_id: int | None, title: str, body: str = "") -> bool:
    if account_id is None:
        return False
    context = current()
    notify(context.session, source="workflow", data=NotificationCreate(
        recipient_kind="account", recipient_key=str(account_id), title=title, body=body, channels=["in_app", "event"]))
    return True


@service_task("notify_department")
def notify_department(department_code: str, title: str, body: str = "") -> bool:
    context = current()
    notify(context.session, source="workflow", data=NotificationCreate(
        recipient_kind="department", recipient_key=str(department_code), title=title, body=body))
    return True


@service_task("call_dmn")
def call_dmn(decision_key: str, **inputs: Any) -> dict[str, Any]:
    """Evaluate the latest deployed version of a DMN table; the result carries the rule that decided."""
    from xingcheng.workflow.service import evaluate_decision  # the service imports this module: resolve at call time

    context = current()
    result: dict[str, Any] = evaluate_decision(context.session, key=decision_key, inputs=inputs, actor=context.actor).model_dump()
    return result


# GB 11714 organisation-code bodies may not carry I, O, S, V or Z inside a credit code.
_BODY_ALPHABET = "".join(c for c in CREDIT_CODE_ALPHABET if c not in "IOSVZ")


@service_task("reserve_credit_code")
def reserve_credit_code(division_code: str | None = None) -> str:
    """A new GB 32100 unified social credit code for a company registered by market regulation (登记管理
    部门代码 9, 企业 1) in ``division_code``; unique against the legal-entity registry."""
    context = current()
    division = str(division_code) if division_code else "430100"
    for _ in range(20):
        body = "".join(secrets.choice(_BODY_ALPHABET) for _ in range(8))
        code = make_credit_code(authority="9", entity_type="1", division_code=division, org_body=body)
        if context.session.scalar(select(LegalEntity.id).where(LegalEntity.credit_code == code)) is None:
            return code
    raise RuntimeError("could not find a free credit code")  # 31^8 bodies: practically unreachable


@service_task("register_enterprise")
def register_enterprise(credit_code: str, name: str, division_code: str, address: str, registered_capital_yuan: int,
                        industry_code: str, legal_representative_id_number: str | None,
                        legal_representative_name: str, employees: int = 0) -> dict[str, Any]:
    """Enter the newly registered company into the legal-entity registry (法人库) as active."""
    context = current()
    today = datetime.now(UTC).date()
    entity = LegalEntity(
        credit_code=str(credit_code), name=str(name)[:128], entity_type="company", industry_code=str(industry_code)[:5],
        industry_name=str(industry_code)[:64], registered_capital_yuan=int(registered_capital_yuan),
        established_date=today, status="active", division_code=str(division_code), address=str(address)[:200],
        legal_representative_id_number=legal_representative_id_number,
        legal_representative_name=str(legal_representative_name)[:32], employees=int(employees),
        revenue_band="micro", tax_credit_rating="M",  # 新设立企业 are rated M until their first assessment
    )
    context.session.add(entity)
    context.session.flush()
    audit.record(context.session, actor=context.actor, action="workflow.register_enterprise", subject=context.subject,
                 purpose="enterprise-start", details={"credit_code": entity.credit_code})
    return {"credit_code": entity.credit_code, "name": entity.name, "established_date": today.isoformat()}


@service_task("lookup_e_licence")
def lookup_e_licence(holder_id: str, licence_type: str | None = None) -> list[dict[str, Any]]:
    """The holder's licences in force (电子证照库), newest first, as plain values."""
    context = current()
    found = [licence for licence in licence_registry.licences_of(context.session, str(holder_id), licence_type)
             if licence_registry.state(licence) == "valid"]
    audit.record(context.session, actor=context.actor, action="workflow.licence_lookup", subject=context.subject,
                 purpose="service-application", result=str(len(found)))
    return [{"number": lic.number, "licence_type": lic.licence_type, "type_name": lic.type_name,
             "valid_until": lic.valid_until.isoformat() if lic.valid_until else None} for lic in found]


def issuer_for(context: TaskContext) -> Principal:
    """Results are issued by the engine on the department's decision, not by whoever pressed the button."""
    return Principal(kind="system", name=f"workflow:{context.subject}"[:64], roles=frozenset({"admin"}))


@service_task("issue_e_licence")
def issue_e_licence(licence_type: str, type_name: str, holder_id: str, holder_name: str, department: str,
                    source: str | None = None, data: dict[str, Any] | None = None, valid_years: int | None = None) -> str:
    """Issue a signed e-licence into the registry and return its number (the result delivered)."""
    context = current()
    today = datetime.now(UTC).date()
    until = today.replace(year=today.year + int(valid_years), day=min(today.day, 28)) if valid_years else None
    licence = licence_registry.issue_licence(
        context.session, licence_type=str(licence_type), type_name=str(type_name), holder_id=str(holder_id),
        holder_name=str(holder_name), issuing_department_code=str(department), valid_from=today, valid_until=until,
        data=dict(data or {}), source=str(source or context.subject)[:128], actor=issuer_for(context))
    return licence.number
