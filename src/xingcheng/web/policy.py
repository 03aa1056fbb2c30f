"""惠企政策 pages: the console's policy editor, match preview, push history and efficiency figures;
the enterprise portal's "my policies" with the reasons, near misses and useful/not-useful feedback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.egov.policy import matching, service
from xingcheng.egov.policy.schemas import LEVEL_LABELS, PolicyUpdate
from xingcheng.web import auth
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY, console_page

PATH = "/console/egov/policy"
COLUMNS = [{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
    ("code", "编号"), ("title", "政策名称"), ("level", "层级"), ("issuer", "发布部门"), ("amount", "兑现额度"),
    ("free", "免申即享"), ("status", "状态"))]
STATUS_LABELS = {"draft": "草稿", "published": "已发布", "archived": "已过期"}


def _yuan(amount: int | None) -> str:
    if not amount:
        return "—"
    return f"{amount / 10_000:,.2f}万元".replace(".00万", "万")


def _stat(title: str, value: str) -> None:
    with ui.card().classes("xc-stat gap-0"):
        ui.label(title).classes("xc-stat-title")
        ui.label(value).classes("xc-stat-value")


def _in_session(work: Any) -> Any:
    with get_database().session_scope() as session:
        return work(session)


def register(modules: Sequence[Module]) -> None:
    @console_page(PATH, title="惠企政策精准推送", modules=modules)
    async def console(user: auth.WebUser) -> None:
        stats = await asyncio.to_thread(_in_session, service.stats)
        with ui.row().classes("gap-3"):
            _stat("政策总数", f"{stats['policies']}")
            _stat("累计推送", f"{stats['pushes']:,}")
            _stat("本月推送", f"{stats['pushes_this_month']:,}")
            _stat("推送有用率", "—" if stats["precision"] is None else f"{stats['precision'] * 100:.1f}%")
            _stat("免申即享兑现", _yuan(stats["granted_yuan"]))
        state: dict[str, Any] = {"q": "", "selected": None}
        with ui.row().classes("items-center gap-3"):
            keyword = ui.input("搜索政策名称或发布部门").props("clearable").classes("w-96 xc-policy-q")
            ui.button("搜索", icon="search", on_click=lambda: refresh()).classes("xc-policy-search")
        table = ui.table(columns=COLUMNS, rows=[], row_key="id", pagination=15).classes("w-full xc-policy-table").props(
            "flat bordered no-data-label=暂无政策")
        detail = ui.column().classes("w-full gap-3 xc-policy-detail")

        async def refresh() -> None:
            state["q"] = (keyword.value or "").strip()[:64]
            items, _total = await asyncio.to_thread(_in_session, lambda s: service.list_policies(
                s, page=PageParams(limit=1000, offset=0), q=state["q"] or None))
            table.rows = [{"id": p["id"], "code": p["code"], "title": p["title"], "level": LEVEL_LABELS[p["level"]],
                           "issuer": p["issuer"], "amount": _yuan(p["benefit_amount_yuan"]),
                           "free": "是" if p["no_application"] else "", "status": STATUS_LABELS[p["status"]]}
                          for p in items]

        async def show(policy_id: int) -> None:
            def load(session: Any) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
                policy = service.get_or_raise(session, policy_id=policy_id)
                campaigns, _ = service.list_campaigns(session, page=PageParams(limit=10, offset=0), policy_id=policy_id)
                return service.policy_view(policy), matching.preview(session, policy=policy), [
                    {"at": c.started_at.strftime("%Y-%m-%d %H:%M"), "by": c.started_by, "qualified": c.qualified,
                     "new": c.new_pushes, "grants": c.grants, "yuan": _yuan(c.granted_yuan)} for c in campaigns]

            policy, preview, campaigns = await asyncio.to_thread(_in_session, load)
            detail.clear()
            with detail, ui.card().classes("w-full gap-2"):
                ui.label(policy["title"]).classes("text-h6")
                ui.label(f"{policy['issuer']} · {LEVEL_LABELS[policy['level']]} · {policy['benefit_note']}").classes(
                    "text-grey-8")
                for line in policy["condition_text"]:
                    ui.label(f"• {line}")
                places = "，".join(f"{d['division_name']} {d['qualified']} 户"
                                  for d in preview["by_district"] if d["qualified"])
                ui.label(f"本政策可触达 {preview['qualified']} 户企业（{places or '暂无'}）；"
                         f"差一项条件的 {preview['near_misses']} 户，已推送 {preview['already_pushed']} 户。"
                         ).classes("text-primary xc-policy-reach")
                for block in preview["blocking"][:3]:
                    ui.label(f"卡在“{block['condition']}”的企业：{block['near_misses']} 户").classes("text-grey-8")
                if user.has("policy:manage"):
                    editor = ui.textarea("条件规则（JSON）", value=json.dumps(policy["conditions"], ensure_ascii=False,
                                                                          indent=2)).classes("w-full xc-policy-rule")
                    errors = ui.column().classes("gap-0 xc-policy-errors")

                    async def save() -> None:
                        errors.clear()
                        try:
                            rule = json.loads(editor.value or "")
                        except json.JSONDecodeError as exc:
                            with errors:
                                ui.label(f"JSON 格式错误：第 {exc.lineno} 行 {exc.msg}").classes("text-negative")
                            return

                        def write(session: Any) -> None:
                            service.update_policy(session, policy_id=policy_id, data=PolicyUpdate(conditions=rule),
                                                  editor=user.principal)
                        try:
                            await asyncio.to_thread(_in_session, write)
                        except XingchengError as exc:
                            with errors:
                                for item in exc.errors or [{"pointer": "", "message": exc.detail}]:
                                    ui.label(f"{item.get('pointer', '')}：{item['message']}").classes("text-negative")
                            return
                        ui.notify("规则已保存", type="positive")
                        await show(policy_id)

                    async def push() -> None:
                        try:
                            campaign = await asyncio.to_thread(_in_session, lambda s: service.push_policy(
                                s, policy_id=policy_id, actor=user.principal).new_pushes)
                        except XingchengError as exc:
                            ui.notify(exc.detail, type="negative")
                            return
                        ui.notify(f"已向 {campaign} 户企业推送", type="positive")
                        await show(policy_id)

                    with ui.row().classes("gap-2"):
                        ui.button("校验并保存规则", icon="rule", on_click=save).classes("xc-policy-save")
                        ui.button("精准推送", icon="send", on_click=push).props("color=positive").classes("xc-policy-push")
                ui.label("推送记录").classes("text-bold")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
                    ("at", "推送时间"), ("by", "发起人"), ("qualified", "符合企业"), ("new", "新推送"),
                    ("grants", "兑现笔数"), ("yuan", "兑现金额"))], rows=campaigns).props("flat dense")

        table.on("rowClick", lambda e: show(int(e.args[1]["id"])))
        await refresh()

    @ui.page("/portal/policy", title="我的惠企政策 · 星城")
    async def my_policies(request: Request) -> RedirectResponse | None:
        user = await auth.require_user(request)
        if isinstance(user, RedirectResponse):
            return user
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS)
        credit_code = user.principal.credit_code
        with ui.column().classes("xc-content w-full gap-3"):
            ui.label("我的惠企政策").classes("xc-page-title")
            if user.principal.kind != "enterprise" or not credit_code:
                ui.label("此页面面向企业账号。").classes("text-grey-8")
                return None

            def load(session: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
                pushes, _ = service.list_pushes(session, principal=user.principal, page=PageParams(limit=100, offset=0))
                return matching.matches_for(session, credit_code=credit_code), pushes

            matches, pushes = await asyncio.to_thread(_in_session, load)
            ui.label(f"{matches['name']}：符合 {len(matches['qualified'])} 项政策，"
                     f"另有 {len(matches['near_misses'])} 项只差一个条件")
            for match in matches["qualified"]:
                with ui.expansion(f"✓ {match['title']}（{_yuan(match['benefit_amount_yuan'])}）").classes(
                        "w-full xc-my-policy"):
                    ui.label(f"{match['issuer']} · {match['benefit_note']}" + (" · 免申即享" if match["no_application"] else ""))
                    for reason in match["reasons"]:
                        ui.label(f"✓ {reason['condition']}（{reason['actual']}）").classes("text-positive")
            for match in matches["near_misses"][:30]:
                with ui.expansion(f"△ {match['title']} — 缺少：{'；'.join(match['missing'])}").classes("w-full"):
                    for reason in match["reasons"]:
                        mark, color = ("✓", "text-positive") if reason["passed"] else ("✗", "text-negative")
                        ui.label(f"{mark} {reason['condition']}（{reason['actual']}）").classes(color)
            ui.label("收到的推送").classes("text-bold")
            for push in pushes:
                with ui.row().classes("items-center gap-2 xc-my-push"):
                    ui.label(f"{push['pushed_at']:%Y-%m-%d} {push['policy_title']}")
                    if push["granted_yuan"]:
                        ui.badge(f"已兑现 {_yuan(push['granted_yuan'])}", color="positive")

                    async def answer(push_id: int, useful: bool) -> None:
                        await asyncio.to_thread(_in_session, lambda s: service.give_feedback(
                            s, principal=user.principal, push_id=push_id, useful=useful))
                        ui.notify("感谢您的反馈", type="positive")

                    ui.button("有用", on_click=lambda _, p=push["id"]: answer(p, True)).props("flat dense")
                    ui.button("没用", on_click=lambda _, p=push["id"]: answer(p, False)).props("flat dense")
                    if push["feedback"]:
                        ui.label("已反馈：" + ("有用" if push["feedback"] == "useful" else "没用")).classes("text-grey-7")
        return None
