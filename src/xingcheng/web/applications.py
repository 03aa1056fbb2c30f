"""一网通办 applications in the browser: apply online, my applications with their timeline (citizens and
enterprises), the department inbox with SLA countdown and decisions, and the service KPI dashboard (staff)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import events, ui
from sqlalchemy import select

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries.models import Licence
from xingcheng.egov.applications import kpis, service, staff, uploads
from xingcheng.egov.applications.schemas import ApplicationSubmit, CorrectionSubmit
from xingcheng.web import auth
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY, console_page

T = TypeVar("T")
PROVISION_LABELS = {"online_form": "在线填报（一表申请）", "registry": "免提交：基础库共享", "auto_licence": "免提交：电子证照",
                    "produced": "免提交：本次办理生成", "upload": "已上传", "e_licence": "引用电子证照"}
ACTION_LABELS = {"submit": "提交申请", "step": "审批环节", "correction": "要求补正", "resubmit": "补正后重新提交",
                 "approved": "办结（准予）", "rejected": "办结（不予）", "withdraw": "撤回", "rate": "评价",
                 "manual_review": "转人工审核"}
TASK_STATUS_LABELS = {"open": "待办理", "claimed": "办理中"}


def in_session(work: Callable[[Any], T]) -> T:
    with get_database().session_scope() as session:
        return work(session)


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 0:
        return f"已超期 {(-seconds) // 3600} 小时 {(-seconds) % 3600 // 60} 分"
    return f"剩余 {seconds // 3600} 小时 {seconds % 3600 // 60} 分"


def _portal_shell(title: str, user: auth.WebUser) -> None:
    ui.colors(primary=PRIMARY)
    ui.add_css(CONSOLE_CSS)
    with ui.header().classes("xc-header items-center justify-between px-6 py-2"):
        with ui.row().classes("items-center gap-4"):
            ui.link("星城 · 一网通办", "/portal/services").classes("xc-brand")
            ui.link("我的办件", "/portal/applications").classes("text-white no-underline")
        ui.label(user.display_name).classes("text-white")
    ui.label(title).classes("xc-page-title mt-4")


async def _applicant(request: Request) -> auth.WebUser | RedirectResponse | None:
    user = await auth.require_user(request)
    if isinstance(user, RedirectResponse):
        return user
    if not user.has("applications:apply"):
        ui.add_css(CONSOLE_CSS)
        ui.label("在线申办面向市民和企业账号；工作人员请使用管理控制台。").classes("text-grey-8 m-8")
        return None
    return user


def register_portal() -> None:
    @ui.page("/portal/apply/{code}", title="在线申办 · 星城")
    async def apply_page(request: Request, code: str) -> RedirectResponse | None:
        user = await _applicant(request)
        if not isinstance(user, auth.WebUser):
            return user
        try:
            form = await asyncio.to_thread(in_session, lambda s: service.form_for(s, code=code[:32], principal=user.principal))
        except XingchengError as exc:
            _portal_shell("在线申办", user)
            ui.label(f"无法申办：{exc.detail}").classes("text-negative")
            return None
        _portal_shell(f"在线申办：{form['item_name']}", user)
        ui.label(f"共需材料 {form['materials_required']} 项，您只需提供 {form['materials_to_provide']} 项，"
                 "其余由政府部门共享获取（免提交）。").classes("text-grey-8 xc-apply-summary")
        inputs: dict[str, Any] = {}
        with ui.card().classes("w-full max-w-3xl gap-2"):
            ui.label("申请表").classes("text-bold")
            for field in form["fields"]:
                label = field["label"] + ("" if field["required"] else "（选填）")
                inputs[field["name"]] = (ui.number(label, format="%d") if field["kind"] == "int"
                                         else ui.input(label)).props("outlined dense").classes("w-full").tooltip(
                                             field["help"] or label)
        given: dict[str, int] = {}
        with ui.card().classes("w-full max-w-3xl gap-1"):
            ui.label("申请材料").classes("text-bold")
            for need in form["materials"]:
                with ui.row().classes("items-center gap-3 w-full"):
                    ui.label(need["name"]).classes("w-64")
                    if need["provision"]:
                        ui.badge(PROVISION_LABELS.get(need["provision"], need["provision"]), color="positive")
                        continue

                    async def stored(event: events.UploadEventArguments, name: str = need["name"]) -> None:
                        content = await event.file.read()
                        try:
                            upload_id = await asyncio.to_thread(in_session, lambda s: uploads.store(
                                s, owner=user.principal, file_name=event.file.name,
                                content_type=event.file.content_type, content=content).id)
                        except XingchengError as exc:
                            ui.notify(f"{name}：{exc.detail}", type="negative")
                            return
                        given[name] = upload_id
                        ui.notify(f"已上传：{name}")

                    ui.upload(on_upload=stored, auto_upload=True, max_file_size=uploads.MAX_BYTES).props(
                        "accept=.pdf,.jpg,.jpeg,.png,.ofd dense flat").classes("w-72")

        async def submit() -> None:
            values = {k: (int(v.value) if isinstance(v, ui.number) and v.value is not None else v.value or None)
                      for k, v in inputs.items()}
            try:
                data = ApplicationSubmit.model_validate({"item_code": form["item_code"], "form": values,
                                                         "materials": [{"name": n, "upload_id": i} for n, i in given.items()]})
                number = await asyncio.to_thread(in_session, lambda s: service.submit(
                    s, principal=user.principal, data=data)[0].number)
            except XingchengError as exc:
                problems.clear()
                with problems:
                    for problem in exc.errors or [{"message": exc.detail}]:
                        ui.label(str(problem["message"])).classes("text-negative xc-apply-problem")
                return
            except ValueError as exc:
                ui.notify(str(exc), type="negative")
                return
            ui.navigate.to(f"/portal/applications/{number}")

        problems = ui.column().classes("gap-0")
        ui.button("提交申请", icon="send", on_click=submit).props("unelevated").classes("xc-apply-submit")
        return None

    @ui.page("/portal/applications", title="我的办件 · 星城")
    async def mine(request: Request) -> RedirectResponse | None:
        user = await _applicant(request)
        if not isinstance(user, auth.WebUser):
            return user
        rows = await asyncio.to_thread(in_session, lambda s: [
            {"number": a.number, "item": a.item_name, "status": service.STATUS_LABELS.get(a.status, a.status),
             "submitted": f"{a.submitted_at:%Y-%m-%d %H:%M}"}
            for a in service.list_mine(s, principal=user.principal, page=PageParams(limit=100, offset=0))[0]])
        _portal_shell("我的办件", user)
        table = ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
            ("number", "办件编号"), ("item", "事项"), ("status", "状态"), ("submitted", "提交时间"))],
            rows=rows, row_key="number").props("flat bordered no-data-label=暂无办件").classes("w-full xc-my-applications")
        table.on("rowClick", lambda e: ui.navigate.to(f"/portal/applications/{e.args[1]['number']}"))
        return None

    @ui.page("/portal/applications/{number}", title="办件详情 · 星城")
    async def detail(request: Request, number: str) -> RedirectResponse | None:
        user = await _applicant(request)
        if not isinstance(user, auth.WebUser):
            return user

        def load(session: Any) -> dict[str, Any]:
            application = service.read(session, number=number[:24], principal=user.principal)
            # The licence library names each issued licence (营业执照 …); the application keeps only the numbers.
            names = dict(session.execute(select(Licence.number, Licence.type_name).where(
                Licence.number.in_(application.result_licences or []))).all())
            return {"app": application, "events": service.timeline(session, application=application),
                    "rating": service.rating_of(session, application=application), "licence_names": names}

        try:
            data = await asyncio.to_thread(in_session, load)
        except XingchengError:
            _portal_shell("办件详情", user)
            ui.label("未找到该办件。").classes("text-grey-8")
            return None
        application = data["app"]
        _portal_shell(f"{application.item_name} · {application.number}", user)
        ui.label(f"状态：{service.STATUS_LABELS.get(application.status, application.status)}").classes("text-h6 xc-app-status")
        if application.decision_reason:
            ui.label(f"说明：{application.decision_reason}").classes("text-grey-8")
        if application.correction_note:
            ui.label(f"补正要求：{application.correction_note}").classes("text-orange-9")
        if application.result_licences:
            ui.label("已签发的电子证照").classes("text-bold mt-2")
            with ui.column().classes("gap-0 xc-app-licences"):
                for licence_number in application.result_licences:
                    ui.label(f"{data['licence_names'].get(licence_number, '电子证照')}：{licence_number}").classes(
                        "xc-app-licence")
        ui.label(f"材料：共需 {application.materials_required} 项，本人提供 {application.materials_provided} 项").classes(
            "text-grey-8")
        with ui.timeline(side="right").classes("max-w-3xl xc-app-timeline"):
            for event in data["events"]:
                ui.timeline_entry(event.note, title=ACTION_LABELS.get(event.action, event.action),
                                  subtitle=f"{event.at:%Y-%m-%d %H:%M}")

        async def act(work: Callable[[Any], Any], message: str) -> None:
            try:
                await asyncio.to_thread(in_session, work)
            except XingchengError as exc:
                ui.notify(exc.detail, type="negative")
                return
            ui.notify(message)
            ui.navigate.reload()

        if application.status not in service.CLOSED:
            ui.button("撤回申请", icon="undo", on_click=lambda: act(lambda s: service.withdraw(
                s, number=application.number, principal=user.principal, reason="申请人主动撤回"), "已撤回")).props("outline")
        if application.status == "correction_requested":
            ui.button("已按要求修改，重新提交", on_click=lambda: act(lambda s: service.resubmit(
                s, number=application.number, principal=user.principal, data=CorrectionSubmit()), "已重新提交"))
        if application.status in service.FINISHED and data["rating"] is None:
            with ui.row().classes("items-center gap-2 xc-app-rate"):
                stars = ui.rating(value=5, max=5)
                comment = ui.input("评价（选填）").props("dense outlined")
                ui.button("提交评价", on_click=lambda: act(lambda s: service.rate(
                    s, number=application.number, principal=user.principal, score=int(stars.value or 5),
                    comment=(comment.value or "")[:500]), "感谢您的评价"))
        return None


def register_console(modules: Sequence[Module]) -> None:
    @console_page("/console/applications", title="办件审批（部门待办）", modules=modules)
    async def inbox_page(user: auth.WebUser) -> None:
        if not user.principal.department_code:
            ui.label("只有部门工作人员有待办队列。").classes("text-grey-8")
            return

        def fetch(session: Any) -> list[dict[str, Any]]:
            entries, _ = staff.inbox_entries(session, principal=user.principal, page=PageParams(limit=200, offset=0))
            return [{"task_id": e["task_id"], "task": e["task_name"],
                     "status": TASK_STATUS_LABELS.get(e["task_status"], e["task_status"]),
                     "version": e["task_version"], "number": e["application"].number, "item": e["application"].item_name,
                     "applicant": e["application"].applicant_name[:1] + "*" * (len(e["application"].applicant_name) - 1),
                     "sla": duration_text(e["seconds_left"]), "overdue": (e["seconds_left"] or 0) < 0} for e in entries]

        async def refresh() -> None:
            table.rows = await asyncio.to_thread(in_session, fetch)

        async def decide(row: dict[str, Any], action: str) -> None:
            reason = (reason_input.value or "").strip()
            try:
                await asyncio.to_thread(in_session, lambda s: staff.decide(
                    s, task_id=row["task_id"], clerk=user.principal, action=action, reason=reason, version=row["version"]))
            except XingchengError as exc:
                ui.notify(exc.detail, type="negative")
            else:
                ui.notify({"approve": "已通过", "reject": "已不予通过", "correction": "已要求补正"}[action])
            await refresh()

        reason_input = ui.input("理由（不予通过或要求补正时必填）").props("outlined dense").classes("w-96 xc-inbox-reason")
        table = ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
            ("number", "办件编号"), ("item", "事项"), ("task", "环节"), ("applicant", "申请人"), ("status", "状态"),
            ("sla", "办理时限"))] + [{"name": "actions", "label": "操作", "field": "task_id"}],
            rows=[], row_key="task_id").props("flat bordered no-data-label=暂无待办").classes("w-full xc-inbox")
        table.add_slot("body-cell-actions", """
            <q-td :props="props">
              <q-btn dense flat color="positive" label="通过" @click="$parent.$emit('approve', props.row)"/>
              <q-btn dense flat color="negative" label="不予通过" @click="$parent.$emit('reject', props.row)"/>
              <q-btn dense flat color="orange" label="补正" @click="$parent.$emit('correction', props.row)"/>
            </q-td>""")
        for action in ("approve", "reject", "correction"):
            table.on(action, lambda e, a=action: decide(e.args, a))
        ui.timer(30, refresh)  # the SLA countdown moves on
        await refresh()

    @console_page("/console/applications/kpis", title="政务服务绩效", modules=modules)
    async def kpi_page(user: auth.WebUser) -> None:
        figures = await asyncio.to_thread(in_session, kpis.compute)
        cards = (("网上可办率", f"{figures['online_share'] * 100:.1f}%"),
                 ("最多跑一次", f"{figures['at_most_one_visit_share'] * 100:.1f}%"),
                 ("零跑动事项", f"{figures['zero_visit_items']} 项"), ("办结件数", f"{figures['finished']} 件"),
                 ("平均办理时长", f"{figures['processing']['avg_hours'] or 0} 小时"),
                 ("按时办结率", f"{(figures['processing']['on_time_rate'] or 0) * 100:.1f}%"),
                 ("好评率", f"{(figures['satisfaction'] or 0) * 100:.1f}%"),
                 ("材料精简", f"{figures['materials_provided']}/{figures['materials_required']} 项"))
        with ui.row().classes("gap-3 xc-kpi-cards"):
            for title, value in cards:
                with ui.card().classes("xc-stat gap-0"):
                    ui.label(title).classes("xc-stat-title")
                    ui.label(value).classes("xc-stat-value")
        departments = figures["by_department"]
        ui.echart({"tooltip": {}, "xAxis": {"type": "category", "data": [d["name"] for d in departments]},
                   "yAxis": {"type": "value", "name": "小时"},
                   "series": [{"type": "bar", "name": "平均办理时长", "data": [d["avg_hours"] or 0 for d in departments]},
                              {"type": "bar", "name": "P90", "data": [d["p90_hours"] or 0 for d in departments]}]}
                  ).classes("w-full h-72")
        ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
            ("name", "事项"), ("applications", "办件"), ("avg_hours", "平均时长(小时)"), ("p90_hours", "P90"),
            ("on_time_rate", "按时率"), ("rating_avg", "平均评分"), ("ratings", "评价数"))],
            rows=figures["by_item"], row_key="key").props("flat bordered dense").classes("w-full xc-kpi-items")


def register(modules: Sequence[Module]) -> None:
    register_portal()
    register_console(modules)
