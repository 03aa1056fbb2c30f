"""Small builders for workflow tests (a unique module name: nested conftest files shadow each other)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.datahub.registries.models import Person

ENTERPRISE_DEPARTMENTS = ("scj", "gaj", "swj_tax", "rsj", "gjj")


def clerk_of(department: str, account_id: int = 9000) -> Principal:
    """A department clerk as the services see one (no login needed below HTTP)."""
    return Principal(kind="staff", name=f"{department}-clerk", account_id=account_id,
                     roles=frozenset({"department_staff"}), department_code=department)


def some_person(session: Session) -> Person:
    person = session.scalars(select(Person).order_by(Person.id).limit(1)).one()
    return person


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def enterprise_variables(person: Person, **extra: Any) -> dict[str, Any]:
    """What the enterprise-start process reads: the founder and the 一表申请 fields."""
    return {"id_number": person.id_number, "applicant_name": person.name, "applicant_account": 1,
            "enterprise_name": "长沙湘江测试科技有限公司", "division_code": "430104", "address": "长沙市岳麓区麓谷街道1号",
            "registered_capital_yuan": 300_000, "industry_code": "I65", "business_scope": "软件开发", "employees": 3,
            "seal_count": 2, "application_number": "QYKB-1", **extra}
