"""Tables for divisions (GB/T 2260), departments, accounts, roles, device API keys, login attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xingcheng.core.db import Base, TimestampMixin, utcnow


class Division(Base):
    """An administrative division, keyed by its GB/T 2260 code."""

    __tablename__ = "division"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # province | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"), default=None)


class Department(TimestampMixin, Base):
    """A municipal department; ``code`` is its identity everywhere outside the database."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    short_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))

    division: Mapped[Division] = relationship(lazy="joined")


class Account(TimestampMixin, Base):
    """A login: staff (in a department), citizen (linked to a person), enterprise (to a legal entity)."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # staff | citizen | enterprise
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), default=None)
    # The registry keys, not foreign keys: core knows nothing of the registries' tables.
    id_number: Mapped[str | None] = mapped_column(String(18), index=True, default=None)
    credit_code: Mapped[str | None] = mapped_column(String(18), index=True, default=None)
    phone: Mapped[str | None] = mapped_column(String(11), default=None)
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    department: Mapped[Department | None] = relationship(lazy="joined")
    role_links: Mapped[list[AccountRole]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", back_populates="account"
    )

    @property
    def roles(self) -> list[str]:
        return sorted(link.role for link in self.role_links)


class AccountRole(Base):
    __tablename__ = "account_role"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    account: Mapped[Account] = relationship(back_populates="role_links")


class LoginAttempt(Base):
    """Every password login, kept for lockout decisions and the security log."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    client: Mapped[str | None] = mapped_column(String(64), default=None)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """Issued refresh tokens by id, so one can be used once and revoked."""

    __tablename__ = "refresh_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(TimestampMixin, Base):
    """A device or integration credential; only a hash of the secret is kept."""

    __tablename__ = "api_key"
    __table_args__ = (UniqueConstraint("prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    device_key: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    owner_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), default=None)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
