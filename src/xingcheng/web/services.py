"""Public 一网通办 portal pages: browse the service catalogue and read an item's 办事指南, no login needed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import NotFound
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.egov.services import service
from xingcheng.egov.services.schemas import ITEM_CODE_PATTERN
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY

PAGE_SIZE = 20
AUDIENCES = ("个人", "法人")
SOURCE_LABELS = {"registry": "政府已掌握（基础库）", "e_licence": "政府已掌握（电子证照）", "applicant": "申请人提供"}
PROCESS_LABELS = {"generic": "通用审批流程：受理 → 审查 → 决定 → 送达", "enterprise-start": "企业开办“一件事一次办”并联审批"}

SERVICES_CSS = """
.xc-svc-hero { background: linear-gradient(135deg, #0e2f66 0%, #1a56a8 60%, #2d8cf0 100%); color: #fff;
               padding: 32px 48px; width: 100%; }
.xc-svc-body { max-width: 1180px; width: 100%; margin: 0 auto; padding: 24px; }
.xc-svc-item { width: 100%; padding: 14px 18px; }
.xc-svc-item-name { font-size: 1.05rem; font-weight: 600; }
.xc-svc-kpi { min-width: 150px; padding: 12px 18px; }
.xc-svc-kpi-value { font-size: 1.6rem; font-weight: 700; color: #1a56a8; }
.xc-svc-section { font-size: 1.1rem; font-weight: 600; color: #1a56a8; margin-top: 12px; }
"""


def browse_url(**params: Any) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "", 0)}
    return "/portal/services" + (f"?{urlencode(query)}" if query else "")


def visits_text(max_visits: int) -> str:
    return service.visits_label(max_visits)


def days_text(promised_days: int) -> str:
    return "即办" if promised_days == 0 else f"承诺{promised_days}个工作日"


def process_text(process_key: str) -> str:
    if process_key.startswith("instant-"):
        return "秒批：符合规则的申请即时自动审批，其余转人工审核"
    return PROCESS_LABELS.get(process_key, process_key)


def _shell(title: str) -> None:
    ui.colors(primary=PRIMARY)
    ui.add_css(CONSOLE_CSS + SERVICES_CSS)
    ui.query(".nicegui-content").classes("p-0 gap-0")
    with ui.column().classes("xc-svc-hero gap-1"):
        with ui.row().classes("items-center gap-3"):
            ui.link("星城", "/").classes("text-white text-h6 no-underline")
            ui.label("·").classes("text-white")
            ui.link("一网通办", "/portal/services").classes("text-white text-h6 no-underline")
        ui.label(title).classes("text-h5 font-bold")


def _kpi_row(kpis: dict[str, Any]) -> None:
    figures = (
        ("政务服务事项", f"{kpis['items']}", "项"), ("网上可办率", f"{kpis['online_rate'] * 100:.1f}", "%"),
        ("最多跑一次", f"{kpis['at_most_one_visit_share'] * 100:.1f}", "%"), ("零跑动事项", f"{kpis['zero_visit_items']}", "项"),
        ("办理网点条目", f"{kpis['implementations']}", "条"),
    )
    with ui.row().classes("gap-3"):
        for title, value, unit in figures:
            with ui.card().classes("xc-svc-kpi gap-0"):
                ui.label(title).classes("text-grey-7 text-sm")
                ui.label(f"{value} {unit}").classes("xc-svc-kpi-value")


def _item_card(item: dict[str, Any]) -> None:
    with ui.card().classes("xc-svc-item gap-1"):
        ui.link(item["name"], f"/portal/services/{item['code']}").classes("xc-svc-item-name xc-svc-item-link")
        with ui.row().classes("gap-2 items-center text-sm text-grey-8"):
            ui.label(f"{item['code']} · {item['department_name']} · {item['item_type']} · {'、'.join(item['audience'])}")
        with ui.row().classes("gap-1"):
            if item["online"]:
                ui.badge("全程网办", color="positive")
            ui.badge(visits_text(item["max_visits"]), color="primary")
            ui.badge(days_text(item["promised_days"]), color="orange")
            ui.badge(item["life_event"], color="grey-7")


def _filters(
    names: dict[str, str], events: list[dict[str, Any]], q: str, department_code: str, life_event: str, audience: str
) -> None:
    with ui.row().classes("w-full items-end gap-3"):
        search = ui.input("搜索事项名称或材料", value=q).props("outlined dense clearable").classes("w-72 xc-svc-search")
        department = ui.select({"": "全部部门", **names}, value=department_code if department_code in names else "",
                               label="部门").props("outlined dense").classes("w-56")
        event = ui.select({"": "全部主题", **{e["life_event"]: f"{e['life_event']}（{e['items']}）" for e in events}},
                          value=life_event if life_event in {e["life_event"] for e in events} else "",
                          label="办事主题").props("outlined dense").classes("w-48")
        who = ui.select({"": "全部对象", **{a: a for a in AUDIENCES}}, value=audience if audience in AUDIENCES else "",
                        label="服务对象").props("outlined dense").classes("w-36")

        def apply() -> None:
            ui.navigate.to(browse_url(q=(search.value or "").strip()[:64], department_code=department.value,
                                      life_event=event.value, audience=who.value))

        search.on("keydown.enter", apply)
        ui.button("查询", icon="search", on_click=apply).props("unelevated")


def browse_page(q: str = "", department_code: str = "", life_event: str = "", audience: str = "", offset: int = 0) -> None:
    offset = max(0, min(offset, 100_000))
    with get_database().session_scope() as session:
        events = service.life_events(session)
        kpis = service.kpis(session)
        names = {d["department_code"]: d["department_name"] for d in kpis["departments"]}  # departments with items
        filters = service.ItemFilters(
            q=q.strip()[:64] or None, department_code=department_code if department_code in names else None,
            life_event=life_event[:16] or None, audience=audience if audience in AUDIENCES else None,
        )
        items, total, _facets = service.search_items(session, filters=filters, page=PageParams(limit=PAGE_SIZE, offset=offset))
    _shell("政务服务事项")
    with ui.column().classes("xc-svc-body gap-4"):
        _kpi_row(kpis)
        _filters(names, events, q, department_code, life_event, audience)
        with ui.row().classes("gap-2 flex-wrap"):
            for event in events:
                ui.link(f"{event['life_event']} {event['items']}", browse_url(life_event=event["life_event"])).classes(
                    "text-sm"
                )
        ui.label(f"共 {total} 项").classes("text-grey-8 xc-svc-total")
        if not items:
            ui.label("没有找到符合条件的事项，请换个关键词试试。").classes("text-grey-7")
        for item in items:
            _item_card(item)
        base = {"q": q, "department_code": department_code, "life_event": life_event, "audience": audience}
        with ui.row().classes("gap-4 items-center"):
            if offset > 0:
                ui.link("上一页", browse_url(**base, offset=max(0, offset - PAGE_SIZE)))
            if total:
                ui.label(f"第 {offset // PAGE_SIZE + 1} / {(total - 1) // PAGE_SIZE + 1} 页").classes("text-grey-7")
            if offset + PAGE_SIZE < total:
                ui.link("下一页", browse_url(**base, offset=offset + PAGE_SIZE))


def _table(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]], css: str) -> None:
    ui.table(
        columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in columns], rows=rows,
        pagination=0,
    ).props("flat bordered dense wrap-cells hide-bottom").classes(f"w-full {css}")


def guide_page(code: str) -> None:
    try:
        if not re.fullmatch(ITEM_CODE_PATTERN, code):
            raise NotFound(code)
        with get_database().session_scope() as session:
            guide = service.guide(session, code=code)
    except NotFound:
        ui.context.client.status_code = 404
        _shell("未找到该事项")
        with ui.column().classes("xc-svc-body gap-2"):
            ui.label(f"事项编码 {code[:40]} 不在本市政务服务事项目录中。").classes("text-grey-8")
            ui.link("返回事项目录", "/portal/services")
        return
    _shell(guide["name"])
    with ui.column().classes("xc-svc-body gap-2 xc-svc-guide"):
        ui.label("办事指南").classes("xc-svc-section")
        facts = [
            ("事项编码", guide["code"]), ("实施部门", guide["department_name"]), ("事项类型", guide["item_type"]),
            ("服务对象", "、".join(guide["audience"])), ("办事主题", guide["life_event"]),
            ("办理形式", "全程网办" if guide["online"] else "窗口办理"), ("到现场次数", guide["visits_label"]),
            ("法定办结时限", f"{guide['statutory_days']}个工作日" if guide["statutory_days"] else "即办"),
            ("承诺办结时限", guide["time_limit_label"]), ("收费", guide["fee_note"] or "不收费"),
            ("办理流程", process_text(guide["process_key"])),
        ]
        _table((("field", "项目"), ("value", "内容")), [{"field": f, "value": v} for f, v in facts], "xc-svc-facts")
        ui.label("受理条件").classes("xc-svc-section")
        ui.label(guide["conditions"] or "以实施部门公布的受理条件为准。").classes("text-grey-9")
        ui.label(
            f"申请材料（共{guide['materials_required']}项，其中{guide['materials_held_by_city']}项政府已掌握，免于提交）"
        ).classes("xc-svc-section")
        _table(
            (("name", "材料名称"), ("required", "是否必需"), ("form", "材料形式"), ("source", "来源")),
            [{"name": m["name"], "required": "必需" if m["required"] else "非必需",
              "form": "原件" if m["original"] else "复印件", "source": SOURCE_LABELS.get(m["source"], m["source"])}
             for m in guide["materials"]],
            "xc-svc-materials",
        )
        ui.label(f"办理地点（{len(guide['implementations'])}处）").classes("xc-svc-section")
        _table(
            (("office_name", "办理机构"), ("service_window", "窗口"), ("address", "地址"), ("phone", "咨询电话"),
             ("hours", "办公时间")),
            guide["implementations"], "xc-svc-places",
        )
        if guide["legal_basis"]:
            ui.label("设定依据").classes("xc-svc-section")
            ui.label(guide["legal_basis"]).classes("text-grey-9")
        if guide["online"]:
            ui.button("在线申办", icon="edit_document",
                      on_click=lambda: ui.navigate.to(f"/portal/apply/{guide['code']}")).props("unelevated").classes(
                "mt-4 xc-svc-apply")
            ui.label("登录后在线提交；政府已掌握的材料无需再次提交。也可前往以上任一办理地点办理。").classes("text-grey-7")
        else:
            ui.label("本事项需前往以上任一办理地点办理。").classes("text-grey-7 mt-4")
        ui.link("返回事项目录", "/portal/services")


def register(modules: Sequence[Module]) -> None:
    """Public pages (no login): the city publishes its catalogue and guides to everyone."""
    del modules  # the catalogue pages need no navigation entries; the signature matches the other page groups
    ui.page("/portal/services", title="一网通办 · 政务服务事项 · 星城")(browse_page)
    ui.page("/portal/services/{code}", title="办事指南 · 星城")(guide_page)
