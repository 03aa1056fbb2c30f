"""Reusable service tasks: functions BPMN script tasks call by name (identity check, enterprise lookup,
fee, notify, call DMN). The engine runs scripts synchronously inside a service call, so the
caller's session and principal reach the functions through a context variable, never a global.

Issuing and looking up e-licences are next (they need the e-licence registry of the data-platform
issue); they will register here under ``issue_e_licence`` and ``lookup_e_licence``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
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
