"""民生诉求一键达 pages: the citizen's submit form (photo, map pin) and request list; the staff dispatcher
queue, the department inbox and the analytics page with hotspots on the Changsha map."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import Client, events, ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings
from xingcheng.governance.requests import analytics, service
from xingcheng.governance.requests.categories import CATEGORIES
from xingcheng.governance.requests.media import MEDIA_URL_PREFIX, media_dir
from xingcheng.governance.requests.schemas import RequestCreate
from xingcheng.web import auth, geo
from xingcheng.web.labels import format_time
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY, console_page

log = logging.getLogger("xingcheng.web")
STATUS_ZH = {"dispatch": "待派单", "assigned": "待签收", "accepted": "办理中", "replied": "已回复", "closed": "已办结",
             "merged": "已合并"}
CATEGORY_OPTIONS = {"": "不确定（智能分派）", **{c.code: f"{c.group} · {c.name}" for c in CATEGORIES}}
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PIN_JS = """
const el = getElement({id});
const chart = el && el.chart;
if (chart && !chart.__xcPin) {{
  chart.__xcPin = true;
  chart.getZr().on('click', (e) => {{
    const p = chart.convertFromPixel({{geoIndex: 0}}, [e.offsetX, e.offsetY]);
    if (p) emitEvent('xc-request-pin', {{lon: p[0], lat: p[1]}});
  }});
}}
return true;
"""


def _rows(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [{
        "id": r.id, "ticket": r.ticket, "status": STATUS_ZH.get(r.status, r.status),
        "category": service.category_name(r.category_code),
        "department": r.department_code or "—", "created": format_time(r.created_at), "text": r.description[:60],
        "due": format_time(r.due_at) if r.due_at else "—", "overdue": "超期" if service.is_overdue(r) else "",
        "confidence": f"{r.route_confidence:.0%}" if r.route_confidence is not None else "—",
    } for r in items]


def _list(filters: service.Filters, limit: int = 100) -> list[dict[str, Any]]:
    with get_database().session_scope() as session:
        items, _ = service.list_(session, filters=filters, page=PageParams(limit=limit, offset=0))
        return _rows(items)


def _columns(*keys: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "label": t, "field": k, "align": "left"} for k, t in keys]


def _act(fn: Any, **kwargs: Any) -> str | None:
    """Run one service step in its own transaction; the error text for the clerk, or None."""
    try:
        with get_database().session_scope() as session:
            fn(session, **kwargs)
    except XingchengError as exc:
        return exc.detail
    return None


def _map_options(points: list[dict[str, Any]], *, districts: dict[str, int] | None = None) -> dict[str, Any]:
    counts = districts or {}
    data = [{"name": d.name, "value": counts.get(d.code, 0)} for d in geo.districts()]
    return {
        "tooltip": {"trigger": "item"},
        "visualMap": {"min": 0, "max": max([*counts.values(), 1]), "left": 8, "bottom": 8,
                      "text": ["多", "少"], "calculable": True, "seriesIndex": 0,
                      "inRange": {"color": ["#e3f2fd", "#64b5f6", "#1565c0"]}},
        "geo": {"map": geo.MAP_NAME, "roam": True, "aspectScale": 0.88, "label": {"show": True, "fontSize": 11},
                "itemStyle": {"areaColor": "#eef5ff", "borderColor": "#5c8fd6"}},
        "series": [
            {"name": "诉求量", "type": "map", "geoIndex": 0, "data": data},
            {"name": "热点", "type": "effectScatter", "coordinateSystem": "geo", "rippleEffect": {"scale": 3},
             "symbolSize": 12, "itemStyle": {"color": "#e53935"},
             "data": [{"name": p.get("name", ""), "value": [p["lon"], p["lat"], p.get("count", 1)]} for p in points]},
        ],
    }


async def _draw_map(box: ui.element, options: dict[str, Any]) -> ui.echart | None:
    try:
        await ui.context.client.connected(timeout=30)
        await ui.run_javascript(geo.REGISTER_MAP_JS, timeout=20)
    except TimeoutError:
        with box:
            ui.label("地图数据加载失败，请刷新页面重试。").classes("text-orange-8")
        return None
    with box:
        return ui.echart(options).classes("w-full h-full")


def register(modules: Sequence[Module]) -> None:
    @ui.page("/portal/requests", title="民生诉求一键达 · 星城")
    async def citizen_page(request: Request, client: Client) -> RedirectResponse | None:
        user = await auth.require_user(request)
        if isinstance(user, RedirectResponse):
            return user
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS)
        state: dict[str, Any] = {"lon": None, "lat": None, "media_url": None}
        with ui.column().classes("w-full max-w-5xl mx-auto p-6 gap-4"):
            ui.label("民生诉求一键达").classes("text-h5 text-weight-bold")
            ui.label("随手拍、随手报：写清问题和位置，系统自动分派到承办部门，办理进度全程可查。").classes("text-grey-8")
            if not user.has("requests:submit"):
                ui.label("当前账号不能提交诉求，请使用市民或企业账号登录。").classes("text-negative")
                return None
            with ui.row().classes("w-full gap-6 no-wrap"):
                with ui.column().classes("w-1/2 gap-2"):
                    text = ui.textarea("诉求内容", placeholder="例如：小区门口烧烤摊油烟很大，晚上熏得睡不着").props(
                        "outlined counter maxlength=2000").classes("w-full")
                    category = ui.select(CATEGORY_OPTIONS, value="", label="问题类别（可不选）").classes("w-full")
                    address = ui.input("地址", placeholder="例如：芙蓉区五一大道100号").classes("w-full")
                    pin = ui.label("未选择地图位置（点击右侧地图标注）").classes("text-grey-7 xc-request-pin")
                    phone = ui.input("联系电话（选填）").classes("w-full")

                    async def uploaded(event: events.UploadEventArguments) -> None:
                        name = f"{uuid.uuid4().hex}{'.png' if event.file.name.lower().endswith('.png') else '.jpg'}"
                        data = await event.file.read()
                        (media_dir(get_settings()) / name).write_bytes(data)
                        state["media_url"] = f"{MEDIA_URL_PREFIX}/{name}"
                        ui.notify("照片已上传", type="positive")

                    ui.upload(label="现场照片（jpg/png，5 MB 以内）", on_upload=uploaded, auto_upload=True,
                              max_file_size=MAX_PHOTO_BYTES).props("accept=.jpg,.jpeg,.png").classes("w-full")
                    result = ui.label().classes("text-positive xc-request-result")

                    async def submit() -> None:
                        try:
                            data = RequestCreate(
                                description=text.value or "", category_code=category.value or None,
                                address=address.value or None, lon=state["lon"], lat=state["lat"],
                                contact_phone=phone.value or None, media_url=state["media_url"])
                        except ValueError as exc:
                            ui.notify(f"请检查填写内容：{str(exc).splitlines()[-1][:80]}", type="warning")
                            return

                        def work() -> str:
                            with get_database().session_scope() as session:
                                created = service.submit(session, data=data, channel="web", submitter=user.principal)
                                return f"已受理，工单号 {created.ticket}，当前状态：{STATUS_ZH[created.status]}"

                        try:
                            result.text = await asyncio.to_thread(work)
                        except XingchengError as exc:
                            ui.notify(exc.detail, type="negative")
                            return
                        text.value = ""
                        mine.rows = await asyncio.to_thread(_list, service.Filters(citizen_account_id=user.account_id))

                    ui.button("提交诉求", on_click=submit).props("unelevated").classes("xc-request-submit")
                map_box = ui.element("div").classes("w-1/2").style("height: 420px")
            ui.label("我的诉求").classes("text-h6")
            rows = await asyncio.to_thread(_list, service.Filters(citizen_account_id=user.account_id))
            mine = ui.table(columns=_columns(("ticket", "工单号"), ("created", "提交时间"), ("category", "类别"),
                                             ("status", "状态"), ("text", "内容")), rows=rows, row_key="id").classes("w-full")
        chart = await _draw_map(map_box, _map_options([]))
        if chart is not None:
            def on_pin(event: events.GenericEventArguments) -> None:
                state["lon"], state["lat"] = round(float(event.args["lon"]), 6), round(float(event.args["lat"]), 6)
                pin.text = f"已标注：经度 {state['lon']}，纬度 {state['lat']}"
                chart.options["series"][1]["data"] = [{"name": "诉求位置", "value": [state["lon"], state["lat"], 1]}]
                chart.update()

            ui.on("xc-request-pin", on_pin)
            try:
                await ui.run_javascript(PIN_JS.format(id=chart.id), timeout=10)
            except TimeoutError:
                log.warning("the browser could not enable the request map pin")
        return None

    @console_page("/console/requests/dispatch", title="诉求派单", modules=modules)
    async def dispatch_page(user: auth.WebUser) -> None:
        departments = sorted({c.department_code for c in CATEGORIES})
        table = ui.table(columns=_columns(("ticket", "工单号"), ("created", "提交时间"), ("category", "建议类别"),
                                          ("confidence", "置信度"), ("text", "内容")),
                         rows=await asyncio.to_thread(_list, service.Filters(status="dispatch")), row_key="id",
                         selection="single").classes("w-full xc-dispatch-queue")
        with ui.row().classes("items-center gap-2"):
            target = ui.select(departments, label="承办部门").classes("w-48")

            async def send() -> None:
                if not table.selected or not target.value:
                    ui.notify("请选择工单和承办部门", type="warning")
                    return
                error = await asyncio.to_thread(_act, service.dispatch, request_id=table.selected[0]["id"],
                                                department_code=target.value, category_code=None, actor=user.principal)
                ui.notify(error or "已派单", type="negative" if error else "positive")
                table.rows = await asyncio.to_thread(_list, service.Filters(status="dispatch"))

            ui.button("派单", on_click=send).props("unelevated")

    @console_page("/console/requests/inbox", title="诉求办理", modules=modules)
    async def inbox_page(user: auth.WebUser) -> None:
        department = None if user.has("requests:dispatch") else user.principal.department_code

        def load() -> list[dict[str, Any]]:
            return [r for r in _list(service.Filters(department_code=department), limit=200)
                    if r["status"] in (STATUS_ZH["assigned"], STATUS_ZH["accepted"])]

        table = ui.table(columns=_columns(("ticket", "工单号"), ("status", "状态"), ("category", "类别"), ("due", "办结时限"),
                                          ("overdue", ""), ("text", "内容")),
                         rows=await asyncio.to_thread(load), row_key="id", selection="single").classes("w-full xc-inbox")
        note = ui.textarea("答复内容 / 转办理由").classes("w-full")
        to = ui.select(sorted({c.department_code for c in CATEGORIES}), label="转办至（不选则退回派单）").classes("w-64")

        async def step(kind: str) -> None:
            if not table.selected:
                ui.notify("请先选择工单", type="warning")
                return
            request_id = table.selected[0]["id"]
            if kind == "accept":
                error = await asyncio.to_thread(_act, service.accept, request_id=request_id, actor=user.principal)
            elif kind == "reply":
                error = await asyncio.to_thread(_act, service.reply, request_id=request_id, text=note.value or "",
                                                actor=user.principal)
            else:
                error = await asyncio.to_thread(_act, service.transfer, request_id=request_id, reason=note.value or "",
                                                to_department_code=to.value or None, actor=user.principal)
            ui.notify(error or "已完成", type="negative" if error else "positive")
            table.rows = await asyncio.to_thread(load)

        with ui.row().classes("gap-2"):
            ui.button("签收", on_click=lambda: step("accept")).props("unelevated")
            ui.button("答复市民", on_click=lambda: step("reply")).props("unelevated")
            ui.button("转办 / 退回", on_click=lambda: step("transfer")).props("outline")

    @console_page("/console/requests/analytics", title="诉求分析", modules=modules)
    async def analytics_page(user: auth.WebUser) -> None:
        def load() -> dict[str, Any]:
            with get_database().session_scope() as session:
                return analytics.summary(session, days=42)

        figures = await asyncio.to_thread(load)
        kpis = (("诉求总量", figures["total"], "件"), ("在办", figures["open"], "件"), ("超期", figures["overdue"], "件"),
                ("平均办理时长", figures["avg_handling_days"] or "—", "天"),
                ("按时办结率", f"{(figures['on_time_rate'] or 0) * 100:.0f}", "%"),
                ("满意率", f"{(figures['satisfied_rate'] or 0) * 100:.0f}", "%"),
                ("重复诉求率", f"{(figures['repeat_rate'] or 0) * 100:.0f}", "%"))
        with ui.row().classes("w-full gap-3"):
            for title, value, unit in kpis:
                with ui.card().classes("p-3 min-w-[120px] xc-request-kpi"):
                    ui.label(title).classes("text-grey-7")
                    ui.label(f"{value} {unit}").classes("text-h6 text-primary")
        with ui.row().classes("w-full gap-4 no-wrap"):
            map_box = ui.element("div").classes("w-1/2").style("height: 460px")
            with ui.column().classes("w-1/2"):
                top = figures["by_category"][:10][::-1]
                ui.echart({"grid": {"containLabel": True, "left": 8, "right": 24, "top": 8, "bottom": 8},
                           "xAxis": {"type": "value"}, "yAxis": {"type": "category", "data": [c["name"] for c in top]},
                           "series": [{"type": "bar", "data": [c["count"] for c in top]}]}).classes("w-full h-56")
                weeks = figures["weekly"]
                ui.echart({"tooltip": {"trigger": "axis"}, "legend": {"data": ["诉求量", "平均办理天数"]},
                           "xAxis": {"type": "category", "data": [w["week"] for w in weeks]},
                           "yAxis": [{"type": "value"}, {"type": "value", "name": "天"}],
                           "series": [{"name": "诉求量", "type": "bar", "data": [w["requests"] for w in weeks]},
                                      {"name": "平均办理天数", "type": "line", "yAxisIndex": 1,
                                       "data": [w["avg_handling_days"] for w in weeks]}]}).classes("w-full h-56")
        districts = {d["key"]: d["count"] for d in figures["by_district"]}
        hotspots = [{"lon": h["lon"], "lat": h["lat"], "count": h["count"], "name": h["top_category_name"]}
                    for h in figures["hotspots"]]
        await _draw_map(map_box, _map_options(hotspots, districts=districts))
