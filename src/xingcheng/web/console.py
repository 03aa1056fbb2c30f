"""Console pages of the core: the home page with summary cards, accounts, departments, the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.identity import service as identity
from xingcheng.core.notifications import service as notifications
from xingcheng.core.registry import NAV_SECTIONS, Module
from xingcheng.core.schemas import PageParams
from xingcheng.web import auth
from xingcheng.web.cockpit import CardValue, compute_cards
from xingcheng.web.labels import (
    ACCOUNT_KIND_LABELS,
    SOURCE_LABELS,
    format_number,
    format_time,
    label,
    role_names,
)
from xingcheng.web.layout import (
    CONSOLE_CSS,
    CONSOLE_PERMISSION,
    console_page,
    console_shell,
    forbidden,
    nav_by_section,
    page_title,
)

INBOX_PAGE_SIZE = 20


@dataclass(frozen=True)
class Summary:
    cards: list[CardValue]
    unread: int
    departments: int
    divisions: int


def load_summary(modules: Sequence[Module], user: auth.WebUser) -> Summary:
    cards = compute_cards(modules) if user.has("cockpit:read") else []
    with get_database().session_scope() as session:
        _, unread = notifications.list_for(session, principal=user.principal, page=PageParams(limit=1), unread_only=True)
        departments = len(identity.list_departments(session))
        divisions = sum(1 for d in identity.list_divisions(session) if d.level == "county")
    return Summary(cards=cards, unread=unread, departments=departments, divisions=divisions)


def stat_card(title: str, value: str, unit: str = "", *, key: str = "", link: str | None = None) -> None:
    with ui.card().classes(f"xc-stat xc-stat-{key}" if key else "xc-stat"):
        ui.label(title).classes("xc-stat-title")
        with ui.row().classes("items-baseline gap-1"):
            ui.label(value).classes("xc-stat-value")
            if unit:
                ui.label(unit).classes("text-grey-7")
        if link:
            ui.link("查看", link).classes("text-sm")


def register(modules: Sequence[Module]) -> None:
    @console_page("/console", title="工作台首页", modules=modules)
    async def home(user: auth.WebUser) -> None:
        summary = await asyncio.to_thread(load_summary, modules, user)
        greeting = f"您好，{user.display_name}"
        if user.department_name:
            greeting += f"（{user.department_name}）"
        ui.label(greeting).classes("text-grey-8")
        with ui.row().classes("gap-4 flex-wrap"):
            for card in summary.cards:
                stat_card(card.title, card.text, card.unit, key=card.key)
            stat_card("未读消息", format_number(summary.unread), "条", key="unread", link="/console/system/notifications")
            stat_card("市直部门", format_number(summary.departments), "个", key="departments")
            stat_card("区县（市）", format_number(summary.divisions), "个", key="divisions")
        ui.label("常用功能").classes("text-subtitle1 font-medium mt-4")
        with ui.row().classes("gap-3 flex-wrap"):
            for entries in nav_by_section(modules, user.principal).values():
                for entry in entries:
                    ui.button(entry.label, icon=entry.icon, on_click=lambda p=entry.path: ui.navigate.to(p)).props(
                        "outline"
                    )

    @console_page("/console/system/users", title="用户与角色", modules=modules)
    async def users(user: auth.WebUser) -> None:
        def load() -> list[dict[str, Any]]:
            with get_database().session_scope() as session:
                return [
                    {
                        "id": a.id, "username": a.username, "display_name": a.display_name,
                        "kind": label(ACCOUNT_KIND_LABELS, a.kind), "roles": role_names(a.roles),
                        "department": a.department.name if a.department else "—",
                        "active": "启用" if a.is_active else "停用", "last_login": format_time(a.last_login_at),
                    }
                    for a in identity.list_accounts(session)
                ]

        rows = await asyncio.to_thread(load)
        columns: list[dict[str, Any]] = [
            {"name": "id", "label": "编号", "field": "id", "align": "left", "sortable": True},
            {"name": "username", "label": "用户名", "field": "username", "align": "left", "sortable": True},
            {"name": "display_name", "label": "显示名称", "field": "display_name", "align": "left"},
            {"name": "kind", "label": "账号类型", "field": "kind", "align": "left", "sortable": True},
            {"name": "roles", "label": "角色", "field": "roles", "align": "left"},
            {"name": "department", "label": "所属部门", "field": "department", "align": "left"},
            {"name": "active", "label": "状态", "field": "active", "align": "left"},
            {"name": "last_login", "label": "最近登录", "field": "last_login", "align": "left"},
        ]
        ui.label(f"共 {format_number(len(rows))} 个账号").classes("text-grey-7")
        ui.table(columns=columns, rows=rows, row_key="id", pagination=20).classes("w-full xc-users-table").props(
            "flat bordered"
        )

    @console_page("/console/system/departments", title="部门与区划", modules=modules)
    async def departments(user: auth.WebUser) -> None:
        def load() -> tuple[list[dict[str, Any]], dict[str, str]]:
            with get_database().session_scope() as session:
                names = {d.code: d.name for d in identity.list_divisions(session)}
                rows = [
                    {
                        "code": d.code, "name": d.name, "short_name": d.short_name, "kind": d.kind,
                        "division_code": d.division_code, "division": names.get(d.division_code, d.division_code),
                    }
                    for d in identity.list_departments(session)
                ]
                return rows, names

        rows, division_names = await asyncio.to_thread(load)
        options = {"": "全部区划", **{code: f"{name}（{code}）" for code, name in division_names.items()}}

        def apply_filter(code: str) -> None:
            table.rows = [r for r in rows if not code or r["division_code"] == code]

        ui.select(options, value="", label="所属区划", on_change=lambda e: apply_filter(e.value or "")).classes(
            "w-64 xc-division-filter"
        )
        columns: list[dict[str, Any]] = [
                {"name": "code", "label": "部门代码", "field": "code", "align": "left", "sortable": True},
                {"name": "name", "label": "部门名称", "field": "name", "align": "left", "sortable": True},
                {"name": "short_name", "label": "简称", "field": "short_name", "align": "left"},
                {"name": "kind", "label": "类别", "field": "kind", "align": "left"},
                {"name": "division", "label": "所属区划", "field": "division", "align": "left"},
            {"name": "division_code", "label": "区划代码", "field": "division_code", "align": "left"},
        ]
        table = ui.table(columns=columns, rows=rows, row_key="code", pagination=20)
        table.classes("w-full xc-departments-table").props("flat bordered")

    @console_page("/console/system/notifications", title="消息通知", modules=modules)
    async def inbox(user: auth.WebUser) -> None:
        state: dict[str, Any] = {"page": 1, "unread_only": False}

        def load() -> tuple[list[dict[str, Any]], int]:
            with get_database().session_scope() as session:
                items, total = notifications.list_for(
                    session, principal=user.principal, unread_only=state["unread_only"],
                    page=PageParams(limit=INBOX_PAGE_SIZE, offset=(state["page"] - 1) * INBOX_PAGE_SIZE),
                )
                return [
                    {"id": n.id, "title": n.title, "body": n.body, "link": n.link, "source": label(SOURCE_LABELS, n.source),
                     "created": format_time(n.created_at), "read": n.read_at is not None}
                    for n in items
                ], total

        def mark(notification_id: int | None) -> None:
            with get_database().session_scope() as session:
                if notification_id is None:
                    notifications.mark_all_read(session, principal=user.principal)
                else:
                    notifications.mark_read(session, principal=user.principal, notification_id=notification_id)

        async def mark_and_refresh(notification_id: int | None) -> None:
            await asyncio.to_thread(mark, notification_id)
            ui.notify("已标记为已读" if notification_id else "全部消息已标记为已读", type="positive")
            await refresh()

        async def toggle_unread(value: bool) -> None:
            state.update(unread_only=value, page=1)
            await refresh()

        with ui.row().classes("items-center gap-4"):
            ui.switch("只看未读", on_change=lambda e: toggle_unread(bool(e.value)))
            ui.button("全部标为已读", icon="done_all", on_click=lambda: mark_and_refresh(None)).props("outline")
        total_label = ui.label("").classes("text-grey-7")
        listing = ui.column().classes("w-full gap-2 xc-inbox")
        pager = ui.pagination(1, 1, direction_links=True).props("max-pages=9 boundary-numbers")

        async def refresh() -> None:
            items, total = await asyncio.to_thread(load)
            total_label.text = f"共 {format_number(total)} 条消息"
            pager.max = max(1, -(-total // INBOX_PAGE_SIZE))
            listing.clear()
            with listing:
                if not items:
                    ui.label("暂无消息").classes("text-grey-6 p-6 xc-inbox-empty")
                for item in items:
                    with ui.card().classes("w-full xc-inbox-item" + ("" if item["read"] else " xc-inbox-unread")):
                        with ui.row().classes("w-full items-center justify-between"):
                            with ui.row().classes("items-center gap-2"):
                                ui.badge("未读", color="negative").set_visibility(not item["read"])
                                ui.label(item["title"]).classes("font-medium")
                            ui.label(f"{item['created']} · 来源：{item['source']}").classes("text-grey-6 text-sm")
                        if item["body"]:
                            ui.label(item["body"]).classes("text-grey-8")
                        with ui.row().classes("gap-3"):
                            if item["link"]:
                                ui.link("查看详情", item["link"])
                            if not item["read"]:
                                ui.button("标为已读", on_click=lambda i=item["id"]: mark_and_refresh(i)).props(
                                    "flat dense color=primary"
                                )

        async def change_page(value: int) -> None:
            state["page"] = value
            await refresh()

        pager.on_value_change(lambda e: change_page(int(e.value)))
        await refresh()


def register_sections(modules: Sequence[Module]) -> None:
    """``/console/<section>``: the section's entries, or 建设中. Parameterised, so registered last."""

    @ui.page("/console/{section}", title="工作台 · 星城")
    async def section_page(request: Request, section: str) -> RedirectResponse | None:
        user = await auth.require_user(request)
        if isinstance(user, RedirectResponse):
            return user
        if not user.has(CONSOLE_PERMISSION):
            ui.add_css(CONSOLE_CSS)
            forbidden("管理控制台仅向政府工作人员开放。市民和企业请通过门户办理业务。")
            return None
        with console_shell(user, modules, active=f"/console/{section}"):
            if section not in NAV_SECTIONS:
                ui.context.client.status_code = 404
                page_title("页面不存在")
                ui.link("返回工作台首页", "/console")
                return None
            page_title(NAV_SECTIONS[section])
            entries = nav_by_section(modules, user.principal)[section]
            if not entries:
                ui.label("该板块正在建设中，敬请期待。").classes("text-grey-7 xc-section-pending")
            with ui.row().classes("gap-3 flex-wrap"):
                for entry in entries:
                    ui.button(entry.label, icon=entry.icon, on_click=lambda p=entry.path: ui.navigate.to(p)).props(
                        "outline"
                    )
        return None
