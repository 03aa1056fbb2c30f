"""Roles, the permissions each grants, and the principal every service receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from xingcheng.core.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    DATA_STEWARD = "data_steward"
    DEPARTMENT_STAFF = "department_staff"
    OPERATOR = "operator"  # operations-centre staff (城市运行管理中心)
    CITIZEN = "citizen"
    ENTERPRISE = "enterprise"
    DEVICE = "device"


STAFF_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD, Role.DEPARTMENT_STAFF, Role.OPERATOR})

# Route permissions, declared once. Data-grade checks (L1–L4) stay in services.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({
        "admin:users", "admin:keys", "directory:read", "registries:read", "registries:write",
        "cockpit:read", "console:use", "notifications:send", "audit:read", "grants:read",
        "services:manage", "catalog:read", "catalog:write", "opendata:publish",
        "workflow:read", "workflow:admin", "workflow:task", "applications:read",
        "iot:read", "iot:write", "alerts:handle",
        "exchange:read",
        "policy:read", "policy:manage",
        "qa:manage",
        "requests:read", "requests:submit", "requests:dispatch", "requests:handle",
        "licences:issue", "registries:claim", "quality:read", "quality:run",
        "traffic:read", "traffic:write", "traffic:plan",
    }),
    Role.DATA_STEWARD: frozenset({
        "directory:read", "registries:read", "registries:write", "cockpit:read", "console:use",
        "notifications:send", "audit:read", "grants:read", "grants:manage", "services:manage",
        "catalog:read", "catalog:write", "opendata:publish", "workflow:read", "workflow:task", "applications:read",
        "iot:read", "iot:write", "alerts:handle",
        "exchange:read", "exchange:request", "exchange:decide",
        "policy:read", "policy:manage",
        "qa:manage",
        "requests:read",
        "licences:issue", "registries:claim", "quality:read", "quality:run",
        "traffic:read",
    }),
    # services:manage for staff is limited to their own department's items in egov.services.
    Role.DEPARTMENT_STAFF: frozenset({
        "directory:read", "registries:read", "console:use", "cockpit:read", "notifications:send", "services:manage",
        "catalog:read", "catalog:write",  # catalog:write: own department's datasets only (datahub.catalog)
        "opendata:publish",  # own department's L1 datasets only (datahub.opendata)
        "workflow:read", "workflow:task",  # workflow:task: own department's inbox only (workflow.inbox)
        "applications:read",  # own department's applications only (egov.applications)
        "iot:read", "alerts:handle",  # alerts:handle: own department's alerts only (iot.alerts)
        "exchange:read", "exchange:request", "exchange:decide",  # exchange:decide: own department's datasets only
        "policy:read", "policy:manage",  # policy:manage: own department's policies only (egov.policy)
        "qa:manage",  # FAQ edits: own department's items only (egov.qa)
        "requests:read", "requests:handle",  # requests:handle: own department's requests only (governance.requests)
        "licences:issue",  # own department's licence types (and 行政审批服务局 for all) only (datahub.registries)
        "registries:claim", "quality:read",  # claims: authoritative update for owned fields, else a claim
        "traffic:read",
    }),
    Role.OPERATOR: frozenset({"directory:read", "cockpit:read", "console:use", "notifications:send", "catalog:read",
                              "applications:read",
                              "workflow:read", "iot:read", "iot:write", "alerts:handle",
                              "exchange:read", "policy:read",
                              "requests:read", "requests:submit", "requests:dispatch",
                              "traffic:read", "traffic:write", "traffic:plan"}),
    Role.CITIZEN: frozenset({"self:read", "applications:apply", "requests:submit"}),
    Role.ENTERPRISE: frozenset({"self:read", "applications:apply", "requests:submit"}),
    Role.DEVICE: frozenset({"device:ingest"}),
}


def permissions_for(roles: list[str] | frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        if role in Role.__members__.values():
            granted |= ROLE_PERMISSIONS[Role(role)]
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """Who is calling, as plain data: services authorize against this, never against HTTP."""

    kind: str  # staff | citizen | enterprise | device
    name: str
    account_id: int | None = None
    api_key_id: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    department_code: str | None = None
    division_code: str | None = None
    id_number: str | None = None
    credit_code: str | None = None
    device_key: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return permissions_for(self.roles)

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.has(permission):
            raise Forbidden(f"your roles ({', '.join(sorted(self.roles)) or 'none'}) do not allow '{permission}'")

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)


SYSTEM = Principal(kind="system", name="system", roles=frozenset({Role.ADMIN}))
