"""Accounts, login with lockout, token refresh, device API keys, the directory of departments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from xingcheng.core.identity.models import (
    Account,
    AccountRole,
    ApiKey,
    Department,
    Division,
    LoginAttempt,
    RefreshToken,
)
from xingcheng.core.identity.schemas import AccountCreate, ApiKeyCreate, TokenPair
from xingcheng.core.refcache import ReferenceCache
from xingcheng.core.security import (
    DUMMY_PASSWORD_HASH,
    api_key_matches,
    decode_token,
    hash_password,
    issue_token,
    new_api_key,
    split_api_key,
    verify_password,
)
from xingcheng.core.settings import Settings

# How often a device key's last_used_at is refreshed at most.
API_KEY_STAMP_INTERVAL = timedelta(minutes=1)

ROLES_BY_KIND = {
    "staff": {Role.ADMIN, Role.DATA_STEWARD, Role.DEPARTMENT_STAFF, Role.OPERATOR},
    "citizen": {Role.CITIZEN},
    "enterprise": {Role.ENTERPRISE},
}


# ---- directory -------------------------------------------------------------------------

def list_divisions(session: Session) -> Sequence[Division]:
    return session.scalars(select(Division).order_by(Division.code)).all()


def list_departments(session: Session, *, division_code: str | None = None) -> Sequence[Department]:
    statement = select(Department).order_by(Department.code)
    if division_code:
        statement = statement.where(Department.division_code == division_code)
    return session.scalars(statement).all()


def get_department_by_code(session: Session, *, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def get_department_or_raise(session: Session, *, code: str) -> Department:
    department = get_department_by_code(session, code=code)
    if department is None:
        raise NotFound(f"no department with code '{code}'")
    return department


# ---- accounts --------------------------------------------------------------------------

def get_account_by_username(session: Session, *, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.username == username))


def get_account_or_raise(session: Session, *, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}")
    return account


def create_account(session: Session, *, data: AccountCreate, created_by: Principal = SYSTEM) -> Account:
    if get_account_by_username(session, username=data.username) is not None:
        raise Conflict(f"the username '{data.username}' is taken")
    allowed = ROLES_BY_KIND[data.kind]
    wrong = [r.value for r in data.roles if r not in allowed]
    if wrong:
        raise Invalid(f"a {data.kind} account cannot have the role(s) {', '.join(wrong)}")
    department_id = None
    if data.department_code:
        department_id = get_department_or_raise(session, code=data.department_code).id
    account = Account(
        username=data.username,
        display_name=data.display_name,
        kind=data.kind,
        password_hash=hash_password(data.password),
        department_id=department_id,
        id_number=data.id_number,
        credit_code=data.credit_code,
        phone=data.phone,
    )
    account.role_links = [AccountRole(role=r.value) for r in sorted(set(data.roles))]
    session.add(account)
    session.flush()
    audit.record(session, actor=created_by, action="account.create", subject=f"account:{account.username}",
                 details={"kind": account.kind, "roles": account.roles})
    return account


def list_accounts(session: Session, *, kind: str | None = None) -> Sequence[Account]:
    statement = select(Account).order_by(Account.id)
    if kind:
        statement = statement.where(Account.kind == kind)
    return session.scalars(statement).all()


def principal_for_account(account: Account) -> Principal:
    department = account.department
    return Principal(
        kind=account.kind,
        name=account.username,
        account_id=account.id,
        roles=frozenset(account.roles),
        department_code=department.code if department else None,
        division_code=department.division_code if department else None,
        id_number=account.id_number,
        credit_code=account.credit_code,
    )


# ---- login -----------------------------------------------------------------------------

def _recent_failures(session: Session, *, username: str, settings: Settings) -> int:
    since = utcnow() - timedelta(minutes=settings.auth.lockout_window_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.username == username, LoginAttempt.succeeded.is_(True)
        )
    )
    if last_success is not None and last_success > since:
        since = last_success
    count = session.scalar(
        select(func.count()).where(
            LoginAttempt.username == username,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
    )
    return int(count or 0)


def authenticate(session: Session, *, username: str, password: str, settings: Settings, client: str | None = None) -> Account:
    """The account for these credentials; repeated failures lock the username for a while.

    Failed attempts are flushed with the error, so the caller's unit of work must commit
    them even though it raises (the API's login route does).
    """
    if _recent_failures(session, username=username, settings=settings) >= settings.auth.lockout_failures:
        minutes = settings.auth.lockout_window_minutes
        audit.record(session, actor=username, action="auth.login", subject=f"account:{username}",
                     result="locked", details={"client": client})
        raise TooManyRequests(
            f"too many failed logins for '{username}'; try again in {minutes} minutes",
            headers={"Retry-After": str(minutes * 60)},
        )
    account = get_account_by_username(session, username=username)
    ok = verify_password(account.password_hash if account else DUMMY_PASSWORD_HASH, password)
    ok = ok and account is not None and account.is_active
    session.add(LoginAttempt(username=username, succeeded=ok, client=client))
    audit.record(session, actor=username, action="auth.login", subject=f"account:{username}",
                 result="ok" if ok else "denied", details={"client": client})
    if not ok or account is None:
        raise Unauthorized("wrong username or password")
    account.last_login_at = utcnow()
    return account


def issue_tokens(session: Session, *, account: Account, settings: Settings) -> TokenPair:
    key = settings.signing_key()
    access, _ = issue_token(
        key=key, subject=str(account.id), token_type="access",
        lifetime=timedelta(minutes=settings.auth.access_token_minutes),
        extra={"roles": account.roles, "name": account.username},
    )
    refresh, claims = issue_token(
        key=key, subject=str(account.id), token_type="refresh",
        lifetime=timedelta(days=settings.auth.refresh_token_days),
    )
    session.add(RefreshToken(jti=claims.jti, account_id=account.id, expires_at=claims.expires_at))
    session.flush()
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.auth.access_token_minutes * 60)


def refresh_tokens(session: Session, *, refresh_token: str, settings: Settings) -> TokenPair:
    """Rotates a refresh token: each one works once, so a stolen copy is detected on reuse."""
    claims = decode_token(refresh_token, key=settings.signing_key(), expected_type="refresh")
    stored = session.get(RefreshToken, claims.jti)
    if stored is None or stored.used_at is not None:
        raise Unauthorized("this refresh token was already used or revoked; log in again")
    stored.used_at = utcnow()
    account = get_account_or_raise(session, account_id=int(claims.subject))
    if not account.is_active:
        raise Unauthorized("the account is disabled")
    return issue_tokens(session, account=account, settings=settings)


# Every authenticated request reads this: the account, its department and its roles (one row per role) in
# one round trip of plain columns — building the ORM objects cost more than the query.
_PRINCIPAL_ROWS = (
    select(Account.id, Account.username, Account.kind, Account.is_active, Account.id_number, Account.credit_code,
           Department.code, Department.division_code, AccountRole.role)
    .outerjoin(Department, Department.id == Account.department_id)
    .outerjoin(AccountRole, AccountRole.account_id == Account.id)
)


# Principals are immutable snapshots, cached per process (core.refcache): a disabled account, a changed role or
# department takes effect at once in the process that changed it and within two seconds in the others.
PRINCIPALS: ReferenceCache[int, Principal | None] = ReferenceCache(
    "principals", watch=(Account, AccountRole, Department), ttl=2.0)


def _read_principal(session: Session, account_id: int) -> Principal | None:
    rows = session.execute(_PRINCIPAL_ROWS.where(Account.id == account_id)).all()
    if not rows or not rows[0].is_active:
        return None
    account = rows[0]
    return Principal(
        kind=account.kind, name=account.username, account_id=account.id,
        roles=frozenset(row.role for row in rows if row.role is not None),
        department_code=account.code, division_code=account.division_code,
        id_number=account.id_number, credit_code=account.credit_code,
    )


def principal_from_access_token(session: Session, *, token: str, settings: Settings) -> Principal:
    account_id = int(decode_token(token, key=settings.signing_key(), expected_type="access").subject)
    principal = PRINCIPALS.get(session, account_id, lambda: _read_principal(session, account_id))
    if principal is None:
        raise Unauthorized("the account behind this token no longer exists or is disabled")
    return principal


# ---- device API keys -------------------------------------------------------------------

def create_api_key(session: Session, *, data: ApiKeyCreate, created_by: Principal = SYSTEM) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is returned once and never stored."""
    full, prefix, secret_hash = new_api_key()
    department_id = get_department_or_raise(session, code=data.department_code).id if data.department_code else None
    api_key = ApiKey(
        prefix=prefix, secret_hash=secret_hash, name=data.name, device_key=data.device_key,
        owner_department_id=department_id, scopes=["device:ingest"],
    )
    session.add(api_key)
    session.flush()
    audit.record(session, actor=created_by, action="api_key.create", subject=f"api_key:{api_key.prefix}",
                 details={"name": api_key.name, "device_key": api_key.device_key})
    return api_key, full


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_api_key(session: Session, *, api_key_id: int, revoked_by: Principal = SYSTEM) -> ApiKey:
    api_key = session.get(ApiKey, api_key_id)
    if api_key is None:
        raise NotFound(f"no API key with id {api_key_id}")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        audit.record(session, actor=revoked_by, action="api_key.revoke", subject=f"api_key:{api_key.prefix}")
    return api_key


def principal_from_api_key(session: Session, *, full_key: str) -> Principal:
    prefix = split_api_key(full_key)
    api_key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    if api_key is None or not api_key_matches(full_key, api_key.secret_hash):
        raise Unauthorized("the API key is not valid")
    if api_key.revoked_at is not None:
        raise Unauthorized("the API key has been revoked")
    now = utcnow()
    # A device sending every few seconds need not write its key row each time: a minute's precision is
    # what operators read, and it keeps authentication from taking the write lock on every request.
    if api_key.last_used_at is None or now - api_key.last_used_at >= API_KEY_STAMP_INTERVAL:
        api_key.last_used_at = now
    return Principal(
        kind="device", name=api_key.name, api_key_id=api_key.id,
        roles=frozenset({Role.DEVICE}), device_key=api_key.device_key,
    )
