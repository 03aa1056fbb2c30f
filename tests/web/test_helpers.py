"""The web layer's pure helpers: where a login may send the browser, how numbers and labels read."""

from __future__ import annotations

import pytest

from xingcheng.core.auth import Principal
from xingcheng.core.registry import NAV_SECTIONS, Module, NavEntry
from xingcheng.web.auth import DEFAULT_NEXT, safe_next
from xingcheng.web.labels import format_number, role_names
from xingcheng.web.layout import find_nav_entry, nav_by_section


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cockpit", "/cockpit"),
        ("/console/datahub/persons?page=2", "/console/datahub/persons?page=2"),
        (None, DEFAULT_NEXT),
        ("", DEFAULT_NEXT),
        ("https://evil.example/", DEFAULT_NEXT),
        ("//evil.example/", DEFAULT_NEXT),
        ("/\\evil.example", DEFAULT_NEXT),
        ("/login?next=/login", DEFAULT_NEXT),
    ],
)
def test_safe_next_only_allows_paths_on_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1234567, "1,234,567"), (2000.0, "2,000"), (1234.5, "1,234.5"), (0.125, "0.12"), ("良", "良")],
)
def test_format_number(value: float | int | str, text: str) -> None:
    assert format_number(value) == text


def test_role_names_are_chinese_and_unknown_roles_show_as_is() -> None:
    assert role_names(frozenset({"admin", "operator"})) == "系统管理员、运行中心值班员"
    assert role_names(frozenset({"auditor"})) == "auditor"
    assert role_names(frozenset()) == "—"


def test_nav_keeps_section_order_and_filters_by_permission() -> None:
    modules = [
        Module(name="a", nav=(
            NavEntry("system", "用户", "/console/system/users", permission="admin:users"),
            NavEntry("datahub", "人口库", "/console/datahub/persons", permission="registries:read"),
            NavEntry("nowhere", "走失", "/console/lost"),
        )),
    ]
    operator = Principal(kind="staff", name="op", roles=frozenset({"operator"}))
    admin = Principal(kind="staff", name="ad", roles=frozenset({"admin"}))
    assert list(nav_by_section(modules, operator)) == list(NAV_SECTIONS)
    assert all(not entries for entries in nav_by_section(modules, operator).values())
    by_section = nav_by_section(modules, admin)
    assert [e.label for e in by_section["datahub"]] == ["人口库"]
    assert [e.label for e in by_section["system"]] == ["用户"]
    assert sum(len(v) for v in by_section.values()) == 2  # the unknown section is left out
    entry = find_nav_entry(modules, "/console/system/users")
    assert entry is not None and entry.permission == "admin:users"
