"""What a clerk reads: zh-CN labels for stored codes, and number/time formatting shared by the pages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# The city's wall clock: stored times are UTC, people read Beijing time.
CITY_TZ = ZoneInfo("Asia/Shanghai")

ROLE_LABELS = {
    "admin": "系统管理员",
    "data_steward": "数据管理员",
    "department_staff": "部门工作人员",
    "operator": "运行中心值班员",
    "citizen": "市民",
    "enterprise": "企业用户",
    "device": "设备",
}

ACCOUNT_KIND_LABELS = {"staff": "工作人员", "citizen": "市民", "enterprise": "企业"}

GENDER_LABELS = {"M": "男", "F": "女"}

ENTITY_TYPE_LABELS = {
    "company": "公司",
    "individual_business": "个体工商户",
    "cooperative": "农民专业合作社",
    "social_organisation": "社会组织",
    "public_institution": "事业单位",
}

# Which module sent a notification, as the inbox says it.
SOURCE_LABELS = {"core": "平台", "registries": "基础库", "identity": "用户中心", "notifications": "消息中心"}

ENTITY_STATUS_LABELS = {"active": "存续", "revoked": "吊销", "cancelled": "注销", "suspended": "停业"}


def label(labels: dict[str, str], code: str | None) -> str:
    """The zh-CN label of ``code``; an unknown code is shown as is rather than hidden."""
    if code is None:
        return "—"
    return labels.get(code, code)


def role_names(roles: list[str] | frozenset[str] | tuple[str, ...]) -> str:
    return "、".join(label(ROLE_LABELS, role) for role in sorted(roles)) or "—"


def format_number(value: float | int | str) -> str:
    """Thousands separators for counts (12,345); at most two decimals for measures; text as is."""
    if isinstance(value, bool):  # bool is an int; a card returning one is a bug, show it plainly
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return value


def format_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


def now_text() -> str:
    return datetime.now(CITY_TZ).strftime("%Y-%m-%d %H:%M:%S")
