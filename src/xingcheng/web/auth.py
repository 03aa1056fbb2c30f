"""Login state of a browser session: password check through the identity service, the signed-in user, guards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app

from xingcheng.core.auth import Principal
from xingcheng.core.db import get_database
from xingcheng.core.errors import NotFound, TooManyRequests, Unauthorized
from xingcheng.core.identity import service as identity
from xingcheng.core.settings import Settings

ACCOUNT_KEY = "account_id"
SINCE_KEY = "signed_in_at"
DEFAULT_NEXT = "/console"
# A console left open on a shared office PC should not stay signed in for days.
SESSION_HOURS = 12


@dataclass(frozen=True)
class WebUser:
    """The signed-in account as the pages need it: names to show and the principal to authorize."""

    account_id: int
    username: str
    display_name: str
    department_name: str | None
    principal: Principal

    def has(self, permission: str) -> bool:
        return self.principal.has(permission)


@dataclass(frozen=True)
class LoginResult:
    account_id: int | None = None
    error: str | None = None


WRONG_CREDENTIALS = "用户名或密码错误，请重新输入。"


def locked_message(settings: Settings) -> str:
    minutes = settings.auth.lockout_window_minutes
    return f"登录失败次数过多，该账号已被临时锁定，请 {minutes} 分钟后再试。"


def check_password(username: str, password: str, *, settings: Settings, client: str | None) -> LoginResult:
    """Authenticate in one unit of work; blocking (argon2 and the database), so call it off the event loop.

    ``authenticate`` flushes the failed attempt and then raises; catching inside the scope lets
    ``session_scope`` commit, so the attempt counts towards the lockout.
    """
    if not username or not password:
        return LoginResult(error="请输入用户名和密码。")
    # Read first: the argon2 check runs without SQLite's write lock; the attempt row takes it.
    with get_database().session_scope(write=False) as session:
        try:
            account = identity.authenticate(session, username=username, password=password, settings=settings, client=client)
        except TooManyRequests:
            return LoginResult(error=locked_message(settings))
        except Unauthorized:
            return LoginResult(error=WRONG_CREDENTIALS)
        return LoginResult(account_id=account.id)


def load_user(account_id: int) -> WebUser | None:
    """The user behind a session, or None when the account is gone or disabled. Blocking."""
    with get_database().session_scope() as session:
        try:
            account = identity.get_account_or_raise(session, account_id=account_id)
        except NotFound:
            return None
        if not account.is_active:
            return None
        department = account.department
        return WebUser(
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
            department_name=department.name if department else None,
            principal=identity.principal_for_account(account),
        )


def sign_in(account_id: int) -> None:
    app.storage.user.update({ACCOUNT_KEY: account_id, SINCE_KEY: time.time()})


def sign_out() -> None:
    app.storage.user.pop(ACCOUNT_KEY, None)
    app.storage.user.pop(SINCE_KEY, None)


def session_account_id() -> int | None:
    """The account id kept for this browser, if the sign-in is still fresh."""
    storage: Any = app.storage.user
    account_id = storage.get(ACCOUNT_KEY)
    since = storage.get(SINCE_KEY)
    if not isinstance(account_id, int) or not isinstance(since, int | float):
        return None
    if time.time() - since > SESSION_HOURS * 3600:
        sign_out()
        return None
    return account_id


async def current_user() -> WebUser | None:
    account_id = session_account_id()
    if account_id is None:
        return None
    user = await asyncio.to_thread(load_user, account_id)
    if user is None:
        sign_out()
    return user


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect after login would help phishing."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return DEFAULT_NEXT
    if target.startswith("/login"):
        return DEFAULT_NEXT
    return target


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def require_user(request: Request) -> WebUser | RedirectResponse:
    """The signed-in user, or the redirect to the login page that comes back here afterwards."""
    user = await current_user()
    return user if user is not None else login_redirect(request)
