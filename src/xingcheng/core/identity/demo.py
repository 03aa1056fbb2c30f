"""Demo steps for the city's skeleton: real divisions, real departments, one login per staff role."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from xingcheng.core.auth import Role
from xingcheng.core.identity import service
from xingcheng.core.identity.models import Department, Division
from xingcheng.core.identity.schemas import AccountCreate
from xingcheng.core.registry import DemoContext, DemoStep

# Documented in the README: the demo city's staff logins.
DEMO_STAFF = [
    ("admin", "系统管理员", "Admin@2026", Role.ADMIN, "dsj"),
    ("steward", "数据管理员", "Steward@2026", Role.DATA_STEWARD, "dsj"),
    ("clerk", "审批窗口工作人员", "Clerk@2026", Role.DEPARTMENT_STAFF, "xzsp"),
    ("operator", "运行中心值班员", "Operator@2026", Role.OPERATOR, "dsj"),
]


def read_reference_csv(name: str) -> list[dict[str, str]]:
    """A reference table shipped in ``xingcheng/core/data`` (copied from the city's public facts)."""
    text = resources.files("xingcheng.core").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load_divisions(session: Session, ctx: DemoContext) -> None:
    rows: list[dict[str, Any]] = [
        {"code": r["code"], "name": r["name"], "level": r["level"], "parent_code": r["parent_code"] or None}
        for r in read_reference_csv("divisions.csv")
    ]
    session.execute(insert(Division), rows)
    ctx.progress("divisions", len(rows), len(rows))


def load_departments(session: Session, ctx: DemoContext) -> None:
    rows = read_reference_csv("departments.csv")
    session.execute(insert(Department), [dict(r) for r in rows])
    ctx.progress("departments", len(rows), len(rows))


def create_staff_accounts(session: Session, ctx: DemoContext) -> None:
    for username, display_name, password, role, department in DEMO_STAFF:
        service.create_account(
            session,
            data=AccountCreate(
                username=username, display_name=display_name, password=password, kind="staff",
                roles=[role], department_code=department,
            ),
        )
    ctx.progress("staff accounts", len(DEMO_STAFF), len(DEMO_STAFF))


DEMO_STEPS = [
    DemoStep("divisions", load_divisions, description="GB/T 2260 divisions of Changsha"),
    DemoStep("departments", load_departments, depends_on=("divisions",), description="60 municipal departments"),
    DemoStep("staff_accounts", create_staff_accounts, depends_on=("departments",), description="one login per staff role"),
]
