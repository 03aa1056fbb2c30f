"""城市运行驾驶舱 v0: headline cards from every module, residents and enterprises by district on a map."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import Client, ui

from xingcheng.core.db import get_database
from xingcheng.core.registry import Module
from xingcheng.datahub.registries import service as registries
from xingcheng.web import auth, geo
from xingcheng.web.labels import format_number, now_text

log = logging.getLogger("xingcheng.web")

REFRESH_SECONDS = 60
TEXT = "#cfe8ff"
ACCENT = "#4fd1ff"

COCKPIT_CSS = """
body { background: #030b1d radial-gradient(ellipse at top, #0d2a5c 0%, #061633 55%, #030b1d 100%) no-repeat;
       min-height: 100vh;
       font-family: "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; }
.nicegui-content { padding: 0 !important; }
.xc-cockpit { width: 100%; padding: 0 24px 24px; color: #cfe8ff; }
.xc-cockpit-title { width: 100%; text-align: center; padding: 14px 0 10px; font-size: 2rem; font-weight: 700;
                    letter-spacing: .3em; color: #e6f4ff; text-shadow: 0 0 12px rgba(79, 209, 255, .8);
                    border-bottom: 1px solid rgba(79, 209, 255, .35);
                    background: linear-gradient(90deg, transparent, rgba(26, 86, 168, .45), transparent); }
.xc-cockpit-bar { width: 100%; justify-content: space-between; color: #8fb8e8; font-size: .9rem; }
.xc-cockpit-bar a { color: #8fb8e8; }
.xc-kpi { flex: 1 1 220px; padding: 14px 20px; border: 1px solid rgba(79, 209, 255, .35); border-radius: 6px;
          background: linear-gradient(180deg, rgba(20, 70, 140, .55), rgba(8, 30, 70, .55));
          box-shadow: inset 0 0 18px rgba(79, 209, 255, .15); }
.xc-kpi-title { color: #8fb8e8; font-size: .95rem; letter-spacing: .1em; }
.xc-kpi-value { color: #4fd1ff; font-size: 2.2rem; font-weight: 700; font-variant-numeric: tabular-nums;
                font-family: "DIN Alternate", "Roboto Mono", monospace; }
.xc-kpi-unit { color: #8fb8e8; margin-left: 6px; }
.xc-panel { border: 1px solid rgba(79, 209, 255, .3); border-radius: 6px; background: rgba(6, 25, 60, .55);
            padding: 12px 14px; }
.xc-panel-title { color: #e6f4ff; font-size: 1.05rem; font-weight: 600; border-left: 4px solid #4fd1ff;
                  padding-left: 8px; margin-bottom: 6px; }
.xc-district-table { width: 100%; border-collapse: collapse; font-size: .92rem; }
.xc-district-table th { color: #8fb8e8; font-weight: 500; text-align: right; padding: 6px 4px;
                        border-bottom: 1px solid rgba(79, 209, 255, .3); }
.xc-district-table th:first-child, .xc-district-table td:first-child { text-align: left; }
.xc-district-table td { text-align: right; padding: 6px 4px; border-bottom: 1px dashed rgba(79, 209, 255, .12);
                        font-variant-numeric: tabular-nums; }
/* The panels fill what the title and the cards leave of the screen, on a laptop or a video wall. */
.xc-panel-body { height: max(460px, calc(100vh - 300px)); width: 100%; }
.xc-cockpit-map .nicegui-echart { height: 100%; }
"""


@dataclass(frozen=True)
class CardValue:
    key: str
    title: str
    text: str  # formatted for display
    unit: str


@dataclass(frozen=True)
class DistrictFigures:
    code: str
    name: str
    persons: int
    legal_entities: int


@dataclass(frozen=True)
class CockpitData:
    cards: list[CardValue]
    districts: list[DistrictFigures]
    updated: str


def load_cockpit(modules: Sequence[Module]) -> CockpitData:
    """Every module's cards and the district figures, read in one session. Blocking."""
    cards: list[CardValue] = []
    # Read-only: the cockpit refreshes while devices write, and must not queue on their write lock.
    with get_database().session_scope(write=False) as session:
        for card in sorted((c for m in modules for c in m.cockpit_cards), key=lambda c: (c.order, c.key)):
            try:
                text = format_number(card.compute(session))
            except Exception:
                log.exception("cockpit card %s failed", card.key)
                session.rollback()
                text = "—"
            cards.append(CardValue(key=card.key, title=card.title, text=text, unit=card.unit))
        counts = {c.division_code: c for c in registries.count_by_district(session)}
    # The map's districts drive the order, so the table, the map and the bars list the same nine.
    figures = [
        DistrictFigures(
            code=d.code, name=d.name,
            persons=counts[d.code].persons if d.code in counts else 0,
            legal_entities=counts[d.code].legal_entities if d.code in counts else 0,
        )
        for d in geo.districts()
    ]
    return CockpitData(cards=cards, districts=figures, updated=now_text())


def compute_cards(modules: Sequence[Module]) -> list[CardValue]:
    return load_cockpit(modules).cards


def map_options(figures: Sequence[DistrictFigures]) -> dict[str, Any]:
    values = [f.persons for f in figures]
    high = max([*values, 1])
    return {
        "tooltip": {
            "trigger": "item",
            "backgroundColor": "rgba(6, 25, 60, .92)",
            "borderColor": ACCENT,
            "textStyle": {"color": "#e6f4ff"},
            # A JS function (NiceGUI evaluates ':' keys): numbers with separators, both registries.
            ":formatter": (
                "(p) => p.data ? `<b>${p.name}</b><br/>实有人口：${p.data.value.toLocaleString('zh-CN')} 人"
                "<br/>市场主体：${p.data.entities.toLocaleString('zh-CN')} 户` : p.name"
            ),
        },
        "visualMap": {
            "min": 0, "max": high, "left": 16, "bottom": 16, "text": ["人口多", "人口少"], "calculable": True,
            "textStyle": {"color": TEXT},
            "inRange": {"color": ["#0b3a78", "#1565c0", "#1e88e5", "#26c6da", "#ffd54f"]},
        },
        "series": [{
            "name": "实有人口",
            "type": "map",
            "map": geo.MAP_NAME,
            "roam": True,
            # Fit the box, keep the shape: at 28°N a degree of longitude is cos(28°) ≈ 0.88 of one of latitude.
            "left": 90, "right": 24, "top": 24, "bottom": 24,  # the legend sits in the left margin
            "aspectScale": 0.88,
            "label": {"show": True, "color": "#ffffff", "fontSize": 13, "textBorderColor": "#061633",
                      "textBorderWidth": 2},
            "itemStyle": {"borderColor": "#7fd6ff", "borderWidth": 1, "areaColor": "#0b3a78"},
            "emphasis": {"label": {"color": "#ffffff"}, "itemStyle": {"areaColor": "#ff9800"}},
            "select": {"disabled": True},
            "data": [{"name": f.name, "value": f.persons, "entities": f.legal_entities} for f in figures],
        }],
    }


def bar_options(figures: Sequence[DistrictFigures]) -> dict[str, Any]:
    ranked = sorted(figures, key=lambda f: f.legal_entities)
    return {
        "grid": {"left": 8, "right": 48, "top": 8, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "axisLabel": {"color": "#8fb8e8"},
                  "splitLine": {"lineStyle": {"color": "rgba(79, 209, 255, .12)"}}},
        "yAxis": {"type": "category", "data": [f.name for f in ranked], "axisLabel": {"color": TEXT}},
        "series": [{
            "name": "市场主体", "type": "bar", "barWidth": 14,
            "data": [f.legal_entities for f in ranked],
            "label": {"show": True, "position": "right", "color": TEXT},
            "itemStyle": {"borderRadius": [0, 7, 7, 0], "color": {
                "type": "linear", "x": 0, "y": 0, "x2": 1, "y2": 0,
                "colorStops": [{"offset": 0, "color": "#1565c0"}, {"offset": 1, "color": ACCENT}],
            }},
        }],
    }


def district_table(figures: Sequence[DistrictFigures]) -> str:
    rows = "".join(
        f"<tr><td>{escape(f.name)}</td><td>{format_number(f.persons)}</td><td>{format_number(f.legal_entities)}</td></tr>"
        for f in figures
    )
    total = (f"<tr><td><b>合计</b></td><td><b>{format_number(sum(f.persons for f in figures))}</b></td>"
             f"<td><b>{format_number(sum(f.legal_entities for f in figures))}</b></td></tr>")
    return (f'<table class="xc-district-table"><thead><tr><th>区县（市）</th><th>实有人口</th><th>市场主体</th>'
            f"</tr></thead><tbody>{rows}{total}</tbody></table>")


def register(modules: Sequence[Module]) -> None:
    @ui.page("/cockpit", title="城市运行驾驶舱 · 星城", dark=True)
    async def cockpit(request: Request, client: Client) -> RedirectResponse | None:
        user = await auth.require_user(request)
        if isinstance(user, RedirectResponse):
            return user
        ui.add_css(COCKPIT_CSS)
        if not user.has("cockpit:read"):
            client.status_code = 403
            with ui.column().classes("w-full items-center mt-24 gap-2 text-white xc-forbidden"):
                ui.label("403 · 无权访问").classes("text-h5")
                ui.label("城市运行驾驶舱仅向授权的工作人员开放。")
                ui.link("返回门户首页", "/").classes("text-blue-3")
            return None
        data = await asyncio.to_thread(load_cockpit, modules)
        with ui.column().classes("xc-cockpit gap-3"):
            ui.label("星城 · 长沙城市运行驾驶舱").classes("xc-cockpit-title")
            with ui.row().classes("xc-cockpit-bar"):
                updated = ui.label(f"数据更新：{data.updated}（每 {REFRESH_SECONDS} 秒刷新）")
                with ui.row().classes("gap-4"):
                    ui.label(f"值班人员：{user.display_name}")
                    ui.link("返回工作台", "/console")
            kpi_values: dict[str, ui.label] = {}
            with ui.row().classes("w-full gap-4 flex-nowrap"):
                for card in data.cards:
                    with ui.element("div").classes(f"xc-kpi xc-kpi-{card.key}").props(f"data-kpi={card.key}"):
                        ui.label(card.title).classes("xc-kpi-title")
                        with ui.row().classes("items-baseline gap-0"):
                            kpi_values[card.key] = ui.label(card.text).classes("xc-kpi-value")
                            ui.label(card.unit).classes("xc-kpi-unit")
            with ui.row().classes("w-full gap-4 flex-nowrap items-stretch"):
                with ui.column().classes("xc-panel w-1/4 gap-1"):
                    ui.label("区县人口与市场主体").classes("xc-panel-title")
                    table = ui.html(district_table(data.districts)).classes("w-full xc-district-panel")
                with ui.column().classes("xc-panel w-1/2 gap-1"):
                    ui.label("实有人口分布").classes("xc-panel-title")
                    map_box = ui.element("div").classes("xc-cockpit-map xc-panel-body").props("data-testid=cockpit-map")
                    with map_box:
                        waiting = ui.spinner(size="lg", color="cyan").classes("self-center m-auto")
                with ui.column().classes("xc-panel w-1/4 gap-1"):
                    ui.label("各区县市场主体数量").classes("xc-panel-title")
                    bars = ui.echart(bar_options(data.districts)).classes("xc-cockpit-bars xc-panel-body")

        try:
            await client.connected(timeout=30)
        except TimeoutError:
            return None  # the browser went away before the page was shown; nothing to draw into
        map_chart: ui.echart | None = None
        try:
            await ui.run_javascript(geo.REGISTER_MAP_JS, timeout=20)
        except TimeoutError:
            log.warning("the browser could not register the Changsha map")
            with map_box:
                ui.label("地图数据加载失败，请刷新页面重试。").classes("text-orange-4 m-auto")
        else:
            with map_box:
                # Created only now: a map series naming an unregistered map makes ECharts fail for good.
                map_chart = ui.echart(map_options(data.districts)).classes("w-full h-full xc-cockpit-map-chart")
        waiting.delete()

        async def refresh() -> None:
            fresh = await asyncio.to_thread(load_cockpit, modules)
            for card in fresh.cards:
                if card.key in kpi_values:
                    kpi_values[card.key].text = card.text
            table.content = district_table(fresh.districts)
            bars.options.update(bar_options(fresh.districts))
            bars.update()
            if map_chart is not None:
                map_chart.options.update(map_options(fresh.districts))
                map_chart.update()
            updated.text = f"数据更新：{fresh.updated}（每 {REFRESH_SECONDS} 秒刷新）"

        ui.timer(REFRESH_SECONDS, refresh)
        return None
