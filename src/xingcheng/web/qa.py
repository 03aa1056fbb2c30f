"""智能问答 pages: the citizen finder (portal page and the widget on the portal home) and the staff
console (try questions, edit the FAQ, work through unanswered questions)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.egov.qa import service
from xingcheng.egov.qa.schemas import FaqCreate, FaqUpdate
from xingcheng.web import auth
from xingcheng.web.labels import format_time
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY, console_page

QA_CSS = """
.xc-qa-box { width: 100%; max-width: 860px; }
.xc-qa-answer { width: 100%; padding: 12px 16px; }
.xc-qa-name { font-size: 1.05rem; font-weight: 600; color: #1a56a8; }
.xc-qa-why { color: #5f6b7a; font-size: .85rem; }
.xc-qa-widget { width: 100%; max-width: 980px; padding: 20px 24px; }
"""
EXAMPLES = ("退休了公积金怎么取", "开奶茶店要办什么证", "身份证丢了怎么补办", "生了孩子要办什么")


def _ask(question: str, channel: str) -> dict[str, Any]:
    with get_database().session_scope() as session:
        return service.ask(session, question=question, channel=channel)


def _feedback(question_id: int, token: str, code: str | None, helpful: bool | None) -> None:
    with get_database().session_scope() as session:
        service.feedback(session, question_id=question_id, token=token, clicked_item_code=code, helpful=helpful)


def answer_view(container: ui.column, result: dict[str, Any]) -> None:
    """Draw one answer: clarification, ranked items with guide facts, follow-ups, feedback buttons."""
    container.clear()
    qid, token = result["question_id"], result["feedback_token"]

    async def send(code: str | None, helpful: bool | None) -> None:
        await asyncio.to_thread(_feedback, qid, token, code, helpful)
        ui.notify("感谢您的反馈", type="positive")

    with container:
        if not result["answers"] or not result["answered"]:
            ui.label("没有找到把握较大的事项，请换个说法，或拨打12345政务服务便民热线。").classes("text-orange-9")
        if result["understood"]:
            ui.label("理解为：" + "，".join(f"{u['said']} → {u['understood_as']}" for u in result["understood"])).classes(
                "xc-qa-why")
        if result["clarification"]:
            clarification = result["clarification"]
            ui.label(clarification["question"]).classes("text-bold")
            with ui.row().classes("gap-2"):
                for option in clarification["options"]:
                    ui.button(option["label"], on_click=lambda _, c=option["item_code"]: send(c, None)).props(
                        "outline dense no-caps")
        for rank, item in enumerate(result["answers"], start=1):
            with ui.card().classes("xc-qa-answer gap-1"):
                ui.label(f"{rank}. {item['name']}").classes("xc-qa-name")
                where = item["where"]
                place = f"{where['office_name']} · {where['service_window']}" if where else "见办事指南"
                ui.label(f"{item['department_name']} · {'可全程网办' if item['online'] else '需到现场办理'} · "
                         f"{item['visits_label']} · {item['time_limit_label']}")
                ui.label(f"办理地点：{place}")
                if item["materials"]:
                    ui.label("所需材料：" + "；".join(item["materials"])).classes("text-grey-8")
                for pair in item["faq"][:2]:
                    ui.label(f"问：{pair['question']} 答：{pair['answer']}").classes("text-grey-8 text-sm")
                ui.label(f"{item['explanation']}（相关度 {item['score']:.1f}）").classes("xc-qa-why")
                with ui.row().classes("gap-2"):
                    ui.link("查看办事指南", f"/portal/services/{item['item_code']}")
                    ui.button("就是这个", on_click=lambda _, c=item["item_code"]: send(c, True)).props("flat dense")
        if result["answers"]:
            ui.button("都不是我要找的", on_click=lambda: send(None, False)).props("flat dense color=grey")
        if result["follow_ups"]:
            ui.label(f"办完这件事，您可能还需要（{result['life_event']}）：").classes("text-bold mt-2")
            with ui.row().classes("gap-2"):
                for follow in result["follow_ups"]:
                    ui.link(follow["name"], f"/portal/services/{follow['item_code']}")


def finder(channel: str) -> None:
    """The question box with examples and the answer area, used on the portal page and the widget."""
    box = ui.input(placeholder="用一句话说说您要办什么事，例如：退休了公积金怎么取").classes("w-full").props(
        "outlined clearable maxlength=200")

    async def submit(question: str | None = None) -> None:
        text = (question or box.value or "").strip()
        if not text:
            return
        box.value = text
        try:
            result = await asyncio.to_thread(_ask, text, channel)
        except XingchengError as exc:
            ui.notify(exc.detail, type="negative")
            return
        answer_view(answers, result)

    box.on("keydown.enter", lambda: submit())
    with ui.row().classes("gap-2 items-center"):
        ui.button("提问", icon="search", on_click=lambda: submit()).props("unelevated")
        for example in EXAMPLES:
            ui.link(example).classes("cursor-pointer text-sm").on("click", lambda _, q=example: submit(q))
    answers = ui.column().classes("w-full gap-2")


def portal_widget() -> None:
    """The embeddable finder on the portal home (no login)."""
    ui.add_css(QA_CSS)
    with ui.card().classes("xc-qa-widget gap-3"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("question_answer", size="md", color="primary")
            ui.label("智能问答 · 办事导引").classes("text-h6")
        finder("widget")


def register(modules: Sequence[Module]) -> None:
    @ui.page("/portal/qa", title="智能问答 · 星城")
    def portal_page() -> None:
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS + QA_CSS)
        with ui.column().classes("xc-qa-box mx-auto p-6 gap-3"):
            with ui.row().classes("items-center gap-3"):
                ui.link("星城", "/").classes("text-h6 no-underline")
                ui.label("智能问答 · 办事导引").classes("text-h5 font-bold")
            finder("portal")

    @console_page("/console/egov/qa", title="智能问答", modules=modules)
    async def console(user: auth.WebUser) -> None:
        ui.add_css(QA_CSS)
        with ui.tabs() as tabs:
            try_tab, faq_tab, open_tab = ui.tab("问答测试"), ui.tab("常见问题维护"), ui.tab("未解决问题")
        with ui.tab_panels(tabs, value=try_tab).classes("w-full"):
            with ui.tab_panel(try_tab):
                stats = ui.row().classes("gap-6")
                finder("console")
            with ui.tab_panel(faq_tab):
                await _faq_editor(user)
            with ui.tab_panel(open_tab):
                await _unanswered(user)
        figures = await asyncio.to_thread(_stats)
        with stats:
            for title, value in (("提问总数", figures["questions"]), ("应答率", f"{figures['answered_rate']:.1%}"),
                                 ("有帮助", f"{figures['helpful_rate']:.1%}"), ("待处理", figures["unanswered_open"]),
                                 ("常见问题", figures["faq_pairs"])):
                with ui.column().classes("gap-0"):
                    ui.label(title).classes("text-grey-7 text-sm")
                    ui.label(str(value)).classes("text-h6")


def _stats() -> dict[str, Any]:
    with get_database().session_scope() as session:
        return service.stats(session)


async def _faq_editor(user: auth.WebUser) -> None:
    columns = [{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
        ("item", "事项"), ("question", "问题"), ("answer", "答案"), ("updated", "更新"))]
    table = ui.table(columns=columns, rows=[], row_key="id", selection="single").classes("w-full")

    def fetch() -> list[dict[str, Any]]:
        with get_database().session_scope() as session:
            items, _ = service.list_faq(session, page=PageParams(limit=1000))
        return [{"id": p["id"], "item_code": p["item_code"], "item": f"{p['item_name']}（{p['item_code']}）",
                 "question": p["question"], "answer": p["answer"], "updated": format_time(p["updated_at"])} for p in items]

    async def refresh() -> None:
        table.rows = await asyncio.to_thread(fetch)
        table.selected = []

    code = ui.input("事项编码", placeholder="CS-GJJ-0004").props("outlined dense")
    question = ui.input("问题").props("outlined dense").classes("w-full")
    answer = ui.textarea("答案").props("outlined dense").classes("w-full")

    def run(action: str) -> None:
        with get_database().session_scope() as session:
            selected = table.selected[0]["id"] if table.selected else None
            if action == "create":
                service.create_faq(session, data=FaqCreate(item_code=code.value or "", question=question.value or "",
                                                           answer=answer.value or ""), editor=user.principal)
            elif selected is None:
                raise ValueError("请先在表格中选择一条常见问题")
            elif action == "update":
                service.update_faq(session, faq_id=selected, editor=user.principal,
                                   data=FaqUpdate(question=question.value or None, answer=answer.value or None))
            else:
                service.delete_faq(session, faq_id=selected, editor=user.principal)

    async def act(action: str) -> None:
        try:
            await asyncio.to_thread(run, action)
        except (XingchengError, ValueError) as exc:
            ui.notify(getattr(exc, "detail", None) or str(exc), type="negative")
            return
        ui.notify("已保存，问答索引已更新", type="positive")
        await refresh()

    with ui.row().classes("gap-2"):
        ui.button("新增", icon="add", on_click=lambda: act("create")).props("unelevated")
        ui.button("修改所选", icon="edit", on_click=lambda: act("update")).props("outline")
        ui.button("删除所选", icon="delete", on_click=lambda: act("delete")).props("outline color=negative")
    await refresh()


async def _unanswered(user: auth.WebUser) -> None:
    columns = [{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
        ("asked", "时间"), ("question", "问题（已脱敏）"), ("channel", "渠道"), ("top", "系统首选"), ("helpful", "反馈"))]

    def fetch() -> list[dict[str, Any]]:
        with get_database().session_scope() as session:
            items, _ = service.list_questions(session, page=PageParams(limit=200), unanswered=True)
        return [{"id": q["id"], "asked": format_time(q["asked_at"]), "question": q["question"], "channel": q["channel"],
                 "top": (q["top_codes"] or ["—"])[0],
                 "helpful": {True: "有帮助", False: "没帮助", None: "—"}[q["helpful"]]} for q in items]

    ui.label("未能给出把握较大答案、或提问者反馈“没帮助”的问题；可据此补充常见问题。").classes("text-grey-7")
    ui.table(columns=columns, rows=await asyncio.to_thread(fetch), row_key="id").classes("w-full")
