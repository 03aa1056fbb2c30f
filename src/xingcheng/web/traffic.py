"""Console page 智慧交通: links coloured by congestion level on the Changsha map, the traffic
performance index by district and hour, the city index against the same time last week, incidents
and the intersections' active signal plans."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.governance.traffic import planning, service
from xingcheng.web import auth, geo
from xingcheng.web.labels import CITY_TZ, format_time
from xingcheng.web.layout import console_page

PATH = "/console/traffic"
LEVEL_COLOURS = {1: "#2e7d32", 2: "#9ccc65", 3: "#fbc02d", 4: "#ef6c00", 5: "#c62828"}
LEVEL_NAMES = {1: "畅通", 2: "基本畅通", 3: "轻度拥堵", 4: "中度拥堵", 5: "严重拥堵"}
KIND_LABELS = {"speed_drop": "车速骤降", "occupancy_jump": "占有率突增"}
REFRESH_SECONDS = 60


def load(network_key: str | None = None) -> dict[str, Any]:
    """Everything the page shows, read in one session (runs in a worker thread)."""
    with get_database().session_scope() as session:
        networks = service.list_networks(session)
        if not networks:
            return {"networks": [], "links": [], "indices": [], "compare": service.city_index_compare(session),
                    "incidents": [], "intersections": [], "interval": None}
        key = network_key or networks[0]["key"]
        interval = service.latest_interval(session, network_key=key)
        indices = service.area_indices(session, start=(interval - timedelta(hours=24)) if interval else None,
                                       limit=5000)
        incidents, _total = service.list_incidents(session, page=PageParams(limit=10, offset=0), network_key=key)
        intersections, _count = planning.list_intersections(session, network_key=key,
                                                             page=PageParams(limit=100, offset=0))
        week_ago = service.area_indices(session, area_code=service.CITY_CODE,
                                        start=(interval - timedelta(days=8)) if interval else None,
                                        end=(interval - timedelta(days=6)) if interval else None, limit=200)
        names = {d.code: d.name for d in geo.districts()}
        return {"networks": networks, "network": key, "links": service.link_states(session, network_key=key),
                "indices": indices, "week_ago": week_ago, "compare": service.city_index_compare(session),
                "incidents": incidents, "intersections": intersections, "interval": interval, "names": names,
                "network_name": service.get_network_or_raise(session, key=key).name}


def map_options(links: list[dict[str, Any]]) -> dict[str, Any]:
    points = [point for link in links for point in link["shape"]]
    lons = [p[0] for p in points] or [112.98]
    lats = [p[1] for p in points] or [28.2]
    return {
        "tooltip": {"trigger": "item", ":formatter": "(p) => p.data && p.data.label ? p.data.label : (p.name || '')"},
        "geo": {"map": geo.MAP_NAME, "roam": True, "aspectScale": 0.88, "zoom": 28,
                "center": [(min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2],
                "itemStyle": {"areaColor": "#eef3f8", "borderColor": "#90a4ae"},
                "label": {"show": True, "color": "#607d8b"}, "emphasis": {"disabled": True}},
        "legend": {"show": False},
        "series": [{
            "type": "lines", "coordinateSystem": "geo", "polyline": True, "zlevel": 2,
            "data": [{"coords": link["shape"], "lineStyle": {"color": LEVEL_COLOURS[link["level"]], "width": 4},
                      "label": (f"{link['name'] or link['link']}：{link['level_label']} · 指数 {link['tpi']:.1f} · "
                                f"{link['speed_kmh']:.0f} km/h · {link['flow_vph']:.0f} 辆/时")}
                     for link in links],
        }],
    }


def _hour_label(moment: datetime) -> str:
    return moment.astimezone(CITY_TZ).strftime("%m-%d %H:%M")


def index_options(indices: list[dict[str, Any]], week_ago: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
    times = sorted({row["interval_start"] for row in indices})
    by_area: dict[str, dict[datetime, float]] = {}
    for row in indices:
        by_area.setdefault(row["area_code"], {})[row["interval_start"]] = row["tpi"]
    series = []
    for code, values in sorted(by_area.items()):
        name = "全市" if code == service.CITY_CODE else names.get(code, code)
        series.append({"name": name, "type": "line", "smooth": True, "showSymbol": False,
                       "lineStyle": {"width": 3 if code == service.CITY_CODE else 1.5},
                       "data": [values.get(t) for t in times]})
    last_week = {row["interval_start"] + timedelta(days=7): row["tpi"] for row in week_ago}
    if last_week:
        series.append({"name": "全市（上周同期）", "type": "line", "smooth": True, "showSymbol": False,
                       "lineStyle": {"type": "dashed"}, "data": [last_week.get(t) for t in times]})
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"},
        "grid": {"left": 40, "right": 16, "top": 36, "bottom": 28},
        "xAxis": {"type": "category", "data": [_hour_label(t) for t in times]},
        "yAxis": {"type": "value", "min": 0, "max": 10, "name": "交通运行指数"},
        "series": series,
    }


def register(modules: Sequence[Module]) -> None:
    @console_page(PATH, title="智慧交通 · 交通运行监测与信号配时", modules=modules)
    async def traffic(user: auth.WebUser) -> None:
        data = await asyncio.to_thread(load)
        if not data["networks"]:
            ui.label("尚未导入路网。请使用 `xingcheng traffic import` 导入 SUMO 路网文件。").classes("text-grey-7")
            return
        compare = data["compare"]
        with ui.row().classes("w-full gap-4 items-stretch"):
            with ui.card().classes("w-64").props("data-testid=traffic-city-index"):
                ui.label("全市交通运行指数").classes("text-subtitle2 text-grey-7")
                now = compare["now"]
                ui.label(f"{now['tpi']:.1f}" if now else "—").classes("text-h4")
                ui.label(now["level_label"] if now else "").classes("text-body2")
                if compare["change_pct"] is not None:
                    colour = "text-red-8" if compare["change_pct"] > 0 else "text-green-8"
                    ui.label(f"较上周同期 {compare['change_pct']:+.1f}%").classes(colour)
            with ui.card().classes("grow"):
                ui.label(f"{data['network_name']} · 统计时段 {format_time(data['interval'])}").classes("text-subtitle1")
                with ui.row().classes("gap-3"):
                    for level, colour in LEVEL_COLOURS.items():
                        ui.html(f'<span style="display:inline-block;width:18px;height:4px;background:{colour};'
                                f'vertical-align:middle"></span> {LEVEL_NAMES[level]}')
                ui.label("依据 GB/T 33171-2016 按道路等级与平均行程速度划分运行等级，指数 0–10。").classes(
                    "text-caption text-grey-7")
        map_box = ui.element("div").classes("w-full").style("height: 460px").props("data-testid=traffic-map")
        with ui.card().classes("w-full"):
            ui.label("各区县交通运行指数（近 24 小时）").classes("text-subtitle1")
            chart = ui.echart(index_options(data["indices"], data["week_ago"], data["names"])).style("height: 300px")
        with ui.row().classes("w-full gap-4 items-start flex-nowrap"):
            with ui.card().classes("w-1/2"):
                ui.label("交通事件（自动检测）").classes("text-subtitle1")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
                    ("time", "时段"), ("name", "路段"), ("kind", "类型"), ("speed", "车速 km/h"), ("status", "状态"))],
                    rows=[{"time": format_time(i["interval_start"]), "name": i["name"] or i["link"],
                           "kind": KIND_LABELS.get(i["kind"], i["kind"]),
                           "speed": f"{i['speed_before_kmh']:.0f} → {i['speed_kmh']:.0f}",
                           "status": "处置中" if i["status"] == "open" else "已关闭"} for i in data["incidents"]],
                ).classes("w-full").props("dense flat")
            with ui.card().classes("w-1/2"):
                ui.label("路口信号配时（当前执行方案）").classes("text-subtitle1")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
                    ("name", "路口"), ("version", "版本"), ("cycle", "周期 s"), ("offset", "相位差 s"), ("source", "来源"))],
                    rows=[{"name": i["name"] or i["key"],
                           "version": i["active_plan"]["version"] if i["active_plan"] else "—",
                           "cycle": i["active_plan"]["cycle_s"] if i["active_plan"] else "—",
                           "offset": i["active_plan"]["offset_s"] if i["active_plan"] else "—",
                           "source": {"imported": "导入", "retimed": "自适应优化", "manual": "人工"}.get(
                               i["active_plan"]["source"], "") if i["active_plan"] else ""}
                          for i in data["intersections"]],
                ).classes("w-full").props("dense flat")
        try:
            await ui.context.client.connected(timeout=30)
        except TimeoutError:
            return  # the browser left before the page was shown
        try:
            await ui.run_javascript(geo.REGISTER_MAP_JS, timeout=20)
        except TimeoutError:
            with map_box:
                ui.label("地图数据加载失败，请刷新页面重试。").classes("text-orange-8")
            return
        with map_box:
            map_chart = ui.echart(map_options(data["links"])).classes("w-full h-full")

        async def refresh() -> None:
            fresh = await asyncio.to_thread(load, data["network"])
            map_chart.options.update(map_options(fresh["links"]))
            map_chart.update()
            chart.options.update(index_options(fresh["indices"], fresh["week_ago"], fresh["names"]))
            chart.update()

        ui.timer(REFRESH_SECONDS, refresh)
