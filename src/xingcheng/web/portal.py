"""Public pages: the portal home for citizens and enterprises, and the sign-in form."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from xingcheng.core.settings import Settings
from xingcheng.web import auth
from xingcheng.web.layout import CONSOLE_CSS, PLATFORM_NAME, PRIMARY
from xingcheng.web.qa import portal_widget as qa_widget

PORTAL_CSS = """
.xc-hero { background: linear-gradient(135deg, #0e2f66 0%, #1a56a8 55%, #2d8cf0 100%); color: #fff;
           padding: 72px 48px 64px; width: 100%; }
.xc-hero h1 { font-size: 2.6rem; font-weight: 700; letter-spacing: .12em; margin: 0; }
.xc-hero p { font-size: 1.1rem; opacity: .9; max-width: 760px; }
.xc-feature { width: 320px; padding: 22px; }
.xc-feature-title { font-size: 1.15rem; font-weight: 600; color: #1a56a8; }
.xc-login-card { width: 380px; padding: 32px 28px; }
.xc-login-error { color: #c62828; min-height: 1.4em; }
"""

FEATURES = (
    ("account_balance", "一网通办", "政务服务事项网上可办、一次办好：市民和企业在线申报，部门并联审批，电子证照共享复用。"),
    ("monitor_heart", "城市运行", "城市运行管理一网统管：物联感知、交通、环境与安全数据汇聚到驾驶舱，异常事件实时预警与处置。"),
    ("hub", "数据中台", "人口、法人等基础库统一建设，跨部门共享按分级分类授权与脱敏，开放数据服务社会创新。"),
    ("api", "开放接口", "平台能力以标准接口开放：OpenAPI 文档、CKAN 开放数据接口与 SensorThings 物联数据接口。"),
)


def register(*, settings: Settings) -> None:
    @ui.page("/", title=f"{PLATFORM_NAME}")
    def home() -> None:
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS + PORTAL_CSS)
        ui.query(".nicegui-content").classes("p-0 gap-0")
        with ui.column().classes("xc-hero gap-4"):
            ui.html("<h1>星城</h1>").classes("xc-portal-title")
            ui.label("城市数字平台 · 长沙城市数字底座开源实现").classes("text-h6")
            ui.html(
                "<p>以“一个底座、四大领域、N 个场景”建设数字城市：市民和企业办事“一网通办”，"
                "城市运行“一网统管”，让数据多跑路、群众少跑腿。</p>"
            )
            with ui.row().classes("gap-3 mt-2"):
                ui.button("工作人员登录", icon="login", on_click=lambda: ui.navigate.to("/login")).props(
                    "unelevated color=white text-color=primary"
                ).classes("xc-portal-login")
                ui.button("城市运行驾驶舱", icon="insights", on_click=lambda: ui.navigate.to("/cockpit")).props(
                    "outline color=white"
                )
                ui.button("开放接口文档", icon="description", on_click=lambda: ui.navigate.to("/docs")).props(
                    "outline color=white"
                )
        with ui.row().classes("w-full justify-center gap-6 p-10"):
            for icon, title, text in FEATURES:
                with ui.card().classes("xc-feature"):
                    with ui.row().classes("items-center gap-2"):
                        ui.icon(icon, size="md", color="primary")
                        ui.label(title).classes("xc-feature-title")
                    ui.label(text).classes("text-grey-8 leading-relaxed")
        with ui.row().classes("w-full justify-center px-10 pb-6"):
            qa_widget()  # 智能问答: the finder, no login
        with ui.row().classes("w-full justify-center gap-6 pb-10 text-grey-7"):
            ui.link("登录工作台", "/login")
            ui.link("城市运行驾驶舱", "/cockpit")
            ui.link("API 文档（OpenAPI）", "/docs")
            ui.label("星城 Xingcheng · 开源城市数字平台")

    @ui.page("/login", title=f"登录 · {PLATFORM_NAME}")
    async def login(request: Request, next: str | None = None) -> RedirectResponse | None:
        target = auth.safe_next(next)
        if await auth.current_user() is not None:
            return RedirectResponse(target, status_code=303)
        client_address = request.client.host if request.client else None
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS + PORTAL_CSS)
        ui.query("body").style("background: linear-gradient(135deg, #0e2f66, #1a56a8 60%, #2d8cf0)")
        with (
            ui.column().classes("w-full items-center justify-center min-h-[85vh]"),
            ui.card().classes("xc-login-card gap-3"),
        ):
            ui.label(PLATFORM_NAME).classes("text-h5 text-primary font-bold self-center")
            ui.label("工作人员登录").classes("text-grey-7 self-center mb-2")
            username = ui.input("用户名").props("outlined autofocus autocomplete=username").classes("w-full xc-username")
            password = ui.input("密码", password=True, password_toggle_button=True).props(
                "outlined autocomplete=current-password"
            ).classes("w-full xc-password")
            error = ui.label("").classes("xc-login-error text-sm")
            button = ui.button("登录").props("unelevated size=lg").classes("w-full xc-login-button")

            async def submit() -> None:
                button.props("loading")
                error.text = ""
                try:
                    # argon2 and the database block: keep the event loop free for other browsers.
                    result = await asyncio.to_thread(
                        auth.check_password, (username.value or "").strip(), password.value or "",
                        settings=settings, client=client_address,
                    )
                finally:
                    button.props(remove="loading")
                if result.account_id is None:
                    error.text = result.error or auth.WRONG_CREDENTIALS
                    password.value = ""
                    return
                auth.sign_in(result.account_id)
                ui.navigate.to(target)

            button.on_click(submit)
            password.on("keydown.enter", submit)
            ui.link("返回门户首页", "/").classes("self-center text-sm")
        return None
