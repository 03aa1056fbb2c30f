"""The console shell (header, navigation drawer grouped by the seven sections) and the guarded console page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from xingcheng.core.auth import Principal
from xingcheng.core.registry import NAV_SECTIONS, Module, NavEntry
from xingcheng.web import auth
from xingcheng.web.labels import role_names

PLATFORM_NAME = "星城 · 城市数字平台"
PRIMARY = "#1a56a8"
CONSOLE_PERMISSION = "console:use"

ContentBuilder = Callable[[auth.WebUser], Awaitable[None]]

CONSOLE_CSS = """
body { font-family: "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif;
       background: #f3f6fb; }
.xc-header { background: linear-gradient(90deg, #123f84, #1a56a8 60%, #2a73d0); }
.xc-brand { color: #fff; font-size: 1.2rem; font-weight: 600; letter-spacing: .08em; text-decoration: none; }
.xc-nav-section { font-size: .8rem; color: #5b6b82; font-weight: 600; margin: 12px 0 2px 14px; letter-spacing: .1em; }
.xc-nav-section--empty { color: #b4bccb; }
.xc-nav-item { display: flex; align-items: center; gap: 10px; padding: 7px 16px; margin: 1px 8px; border-radius: 6px;
               color: #1f2d3d; text-decoration: none; font-size: .92rem; }
.xc-nav-item:hover { background: #e8f0fb; }
.xc-nav-item--active { background: #dce8fa; color: #1a56a8; font-weight: 600; }
.xc-nav-pending { color: #b4bccb; font-size: .85rem; padding: 3px 16px 3px 44px; }
.xc-content { padding: 20px 28px; max-width: 1500px; }
.xc-page-title { font-size: 1.35rem; font-weight: 600; color: #1f2d3d; }
.xc-crumb { color: #8492a6; font-size: .85rem; }
.xc-stat { min-width: 200px; padding: 16px 20px; }
.xc-stat-title { color: #5b6b82; font-size: .9rem; }
.xc-stat-value { font-size: 1.8rem; font-weight: 600; color: #1a56a8; font-variant-numeric: tabular-nums; }
"""


def nav_by_section(modules: Sequence[Module], principal: Principal) -> dict[str, list[NavEntry]]:
    """Every module's navigation entries the principal may use, under the seven sections in order."""
    sections: dict[str, list[NavEntry]] = {key: [] for key in NAV_SECTIONS}
    for module in modules:
        for entry in module.nav:
            # An entry naming an unknown section is the module's bug; leaving it out keeps the drawer fixed.
            if entry.section in sections and principal.has(entry.permission):
                sections[entry.section].append(entry)
    return sections


def find_nav_entry(modules: Sequence[Module], path: str) -> NavEntry | None:
    for module in modules:
        for entry in module.nav:
            if entry.path == path:
                return entry
    return None


def _logout() -> None:
    auth.sign_out()
    ui.navigate.to("/login")


def _header(user: auth.WebUser, drawer: ui.left_drawer) -> None:
    with ui.header(elevated=True).classes("xc-header items-center justify-between px-4 py-2"):
        with ui.row().classes("items-center gap-2"):
            ui.button(icon="menu", on_click=drawer.toggle).props("flat round dense color=white")
            ui.link(PLATFORM_NAME, "/console").classes("xc-brand")
        with ui.row().classes("items-center gap-4 text-white"):
            if user.has("cockpit:read"):
                ui.link("城市运行驾驶舱", "/cockpit").classes("text-white no-underline")
            with ui.row().classes("items-center gap-1"):
                ui.icon("account_circle", size="sm")
                ui.label(user.display_name).classes("xc-user-name font-medium")
                ui.label(f"（{role_names(user.principal.roles)}）").classes("xc-user-role opacity-80")
            ui.button("退出登录", icon="logout", on_click=_logout).props("flat dense color=white").classes("xc-logout")


def _drawer_content(user: auth.WebUser, modules: Sequence[Module], active: str) -> None:
    home_classes = "xc-nav-item" + (" xc-nav-item--active" if active == "/console" else "")
    with ui.link(target="/console").classes(home_classes + " mt-3"):
        ui.icon("dashboard", size="xs")
        ui.label("工作台首页")
    for key, entries in nav_by_section(modules, user.principal).items():
        section = ui.label(NAV_SECTIONS[key]).classes("xc-nav-section").props(f"data-section={key}")
        if not entries:
            section.classes("xc-nav-section--empty")
            ui.label("建设中").classes("xc-nav-pending")
            continue
        for entry in entries:
            classes = "xc-nav-item" + (" xc-nav-item--active" if entry.path == active else "")
            with ui.link(target=entry.path).classes(classes).props(f"data-path={entry.path}"):
                ui.icon(entry.icon, size="xs")
                ui.label(entry.label)


@contextmanager
def console_shell(user: auth.WebUser, modules: Sequence[Module], *, active: str) -> Iterator[None]:
    """Header and navigation around whatever the caller builds inside the ``with`` block."""
    ui.colors(primary=PRIMARY)
    ui.add_css(CONSOLE_CSS)
    drawer = ui.left_drawer(value=True, bordered=True).props("width=232").classes("bg-white p-0 gap-0")
    with drawer:
        _drawer_content(user, modules, active)
    _header(user, drawer)
    with ui.column().classes("xc-content w-full gap-4"):
        yield


def page_title(title: str, crumb: str | None = None) -> None:
    with ui.column().classes("gap-0"):
        if crumb:
            ui.label(crumb).classes("xc-crumb")
        ui.label(title).classes("xc-page-title")


def forbidden(message: str = "您的账号没有访问此页面的权限，如需开通请联系系统管理员。") -> None:
    """A 403 in the clerk's words; the HTTP status says the same to scripts."""
    ui.context.client.status_code = 403
    with ui.card().classes("xc-forbidden items-center gap-2 p-8 self-center mt-10"):
        ui.icon("block", size="xl", color="negative")
        ui.label("403 · 无权访问").classes("text-h6")
        ui.label(message).classes("text-grey-8")
        ui.link("返回工作台首页", "/console")


def console_page(
    path: str, *, title: str, modules: Sequence[Module], permission: str | None = None
) -> Callable[[ContentBuilder], ContentBuilder]:
    """Registers ``path`` as a console page: login required, the NavEntry's permission checked, shell drawn.

    ``permission`` defaults to the one the path's navigation entry declares, so the drawer and the
    page can never disagree about who may see it.
    """
    entry = find_nav_entry(modules, path)
    required = permission or (entry.permission if entry else CONSOLE_PERMISSION)
    crumb = NAV_SECTIONS.get(entry.section) if entry else None

    def register(build: ContentBuilder) -> ContentBuilder:
        @ui.page(path, title=f"{title} · 星城")
        async def page(request: Request) -> RedirectResponse | None:
            user = await auth.require_user(request)
            if isinstance(user, RedirectResponse):
                return user
            if not user.has(CONSOLE_PERMISSION):
                ui.add_css(CONSOLE_CSS)
                forbidden("管理控制台仅向政府工作人员开放。市民和企业请通过门户办理业务。")
                return None
            with console_shell(user, modules, active=path):
                if not user.has(required):
                    forbidden()
                    return None
                page_title(title, crumb)
                await build(user)
            return None

        return build

    return register
