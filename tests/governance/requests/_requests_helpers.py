"""Builders for the citizen-request tests: principals and accounts of the roles involved."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal, Role
from xingcheng.core.identity import service as identity
from xingcheng.core.identity.models import Account
from xingcheng.core.identity.schemas import AccountCreate

# A pin on 五一大道 in 芙蓉区 and one well outside the city (Beijing).
FURONG = (112.9880, 28.1960)
BEIJING = (116.397, 39.909)


def staff(department: str, role: Role = Role.DEPARTMENT_STAFF, name: str | None = None) -> Principal:
    return Principal(kind="staff", name=name or f"{department}-clerk", account_id=None,
                     roles=frozenset({role}), department_code=department, division_code="430100")


def dispatcher() -> Principal:
    return Principal(kind="staff", name="operator", roles=frozenset({Role.OPERATOR}), department_code="dsj")


def citizen(session: Session) -> Principal:
    account = session.scalar(select(Account).where(Account.username == "citizen"))
    assert account is not None
    return identity.principal_for_account(account)


def staff_account(session: Session, department: str, username: str, password: str = "Handler@2026") -> Account:
    return identity.create_account(session, data=AccountCreate(
        username=username, display_name=f"{department} 办理员", password=password, kind="staff",
        roles=[Role.DEPARTMENT_STAFF], department_code=department,
    ))
