"""物联感知 console: the device map, live datastream charts, the alert board and the data-quality report."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nicegui import ui
from sqlalchemy import select

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.iot import alerts, quality, runtime
from xingcheng.iot.models import Alert, Datastream, ObservedProperty, Thing
from xingcheng.iot.store import borrowed_store
from xingcheng.web import auth, geo
from xingcheng.web.labels import CITY_TZ, format_time
from xingcheng.web.layout import console_page

STATUS_COLOURS = {"alert": "#c62828", "live": "#2e7d32", "silent": "#ef6c00", "maintenance": "#90a4ae"}
STATUS_NAMES = {"alert": "预警中", "live": "在线", "silent": "未上报", "maintenance": "维护中"}
STATUS_RANK = {"alert": 3, "silent": 2, "maintenance": 1, "live": 0}  # a cluster shows its worst member
SEVERITY_NAMES = {"critical": "严重", "warning": "警告", "info": "提示"}
SEVERITY_COLOURS = {"critical": "negative", "warning": "warning", "info": "info"}
ALERT_STATUS = {"open": "待处置", "acknowledged": "处置中", "resolved": "已解除", "closed": "已关闭"}
CLUSTER_ABOVE = 3000  # more things than this are drawn as grid clusters
CLUSTER_DEGREES = 0.01
STORE_BUSY = "感知数据存储暂不可用（由其他进程占用），请稍后刷新。"


def _pct(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "—"


# ---- device map ------------------------------------------------------------------------------

def load_devices() -> dict[str, Any]:
    """Every thing with its status: alert (a live alert), live, silent (nothing lately), maintenance."""
    with get_database().session_scope() as session:
        things = session.execute(
            select(Thing.id, Thing.key, Thing.name, Thing.lon, Thing.lat, Thing.status)
            .where(Thing.status != "retired")
        ).all()
        alerting = set(session.scalars(
            select(Alert.thing_key).where(Alert.status.in_(alerts.LIVE), Alert.thing_key.is_not(None))
        ))
        note, live = "", {}
        try:
            with borrowed_store() as store:
                horizon = quality.data_horizon(store)
                # As of the newest reading: a demo store without a live feed still shows who reported.
                reference = min(datetime.now(UTC), horizon.replace(tzinfo=UTC)) if horizon else datetime.now(UTC)
                table = quality.stream_liveness(session, store, now=reference)
                live = dict(zip(table.column("thing_id").to_pylist(), table.column("live").to_pylist(), strict=True))
                note = f"数据截至 {format_time(reference)}"
        except XingchengError:
            note = STORE_BUSY
    points = []
    for thing_id, key, name, lon, lat, status in things:
        state = ("alert" if key in alerting else "maintenance" if status != "active"
                 else "live" if live.get(thing_id) else "silent")
        points.append((lon, lat, state, f"{name}（{key}）"))
    counts = {s: sum(1 for p in points if p[2] == s) for s in STATUS_NAMES}
    return {"points": points, "counts": counts, "note": note}


def device_map_options(points: list[tuple[float, float, str, str]]) -> dict[str, Any]:
    """One scatter series per status; beyond ``CLUSTER_ABOVE`` things, grid cells sized by their count."""
    series_data: dict[str, list[dict[str, Any]]] = {s: [] for s in STATUS_NAMES}
    if len(points) <= CLUSTER_ABOVE:
        for lon, lat, state, label in points:
            series_data[state].append({"value": [lon, lat, 1], "label": f"{label} · {STATUS_NAMES[state]}"})
    else:
        cells: dict[tuple[int, int], list[Any]] = {}
        for lon, lat, state, _label in points:
            cell = cells.setdefault((round(lon / CLUSTER_DEGREES), round(lat / CLUSTER_DEGREES)), [0.0, 0.0, 0, "live"])
            cell[0] += lon
            cell[1] += lat
            cell[2] += 1
            if STATUS_RANK[state] > STATUS_RANK[cell[3]]:
                cell[3] = state
        for lon_sum, lat_sum, n, state in cells.values():
            series_data[state].append({"value": [round(lon_sum / n, 5), round(lat_sum / n, 5), n],
                                       "label": f"{n} 台设备 · 最差状态：{STATUS_NAMES[state]}"})
    lons = [p[0] for p in points] or [112.98]
    lats = [p[1] for p in points] or [28.2]
    return {
        "tooltip": {"trigger": "item", ":formatter": "(p) => p.data && p.data.label ? p.data.label : (p.name || '')"},
        "legend": {"top": 0, "data": list(STATUS_NAMES.values())},
        "geo": {"map": geo.MAP_NAME, "roam": True, "aspectScale": 0.88,
                "center": [(min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2], "zoom": 1.2,
                "itemStyle": {"areaColor": "#eef3f8", "borderColor": "#90a4ae"},
                "label": {"show": True, "color": "#607d8b"}, "emphasis": {"disabled": True}},
        "series": [{
            "name": STATUS_NAMES[state], "type": "scatter", "coordinateSystem": "geo", "large": len(data) > 2000,
            "itemStyle": {"color": STATUS_COLOURS[state]}, "zlevel": 2 + STATUS_RANK[state],
            ":symbolSize": "(v) => Math.min(28, 5 + 3 * Math.log2(v[2]))",
            "data": data,
        } for state, data in series_data.items()],
    }


# ---- datastream chart ------------------------------------------------------------------------

def load_stream_choices() -> dict[str, Any]:
    """A default datastream (an air-quality station's PM2.5 when there is one) and the property names."""
    with get_database().session_scope() as session:
        props = list(session.execute(select(ObservedProperty.name, ObservedProperty.label).order_by(ObservedProperty.name)))
        first = session.execute(
            select(Thing.key, ObservedProperty.name).join(Datastream, Datastream.thing_id == Thing.id)
            .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
            .where(Thing.status == "active").order_by((ObservedProperty.name != "pm25"), Datastream.id).limit(1)
        ).first()
    return {"properties": {name: f"{label}（{name}）" for name, label in props},
            "thing_key": first[0] if first else "", "property": first[1] if first else None}


def load_stream(thing_key: str, prop: str | None, hours: int = 6) -> dict[str, Any]:
    key = f"{thing_key.strip()}/{prop}"
    with get_database().session_scope() as session:
        row = session.execute(
            select(Datastream.id, Thing.name, ObservedProperty.label, Datastream.unit, Datastream.valid_min,
                   Datastream.valid_max)
            .join(Thing, Thing.id == Datastream.thing_id)
            .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id).where(Datastream.key == key)
        ).first()
    if row is None:
        return {"error": f"未找到数据流 {key}"}
    stream_id, thing_name, label, unit, valid_min, valid_max = row
    try:
        with borrowed_store() as store:
            # The latest-value table outlives raw retention; the raw table may no longer hold the newest reading.
            newest = store.latest([stream_id])
            end = newest[0].time if newest else datetime.now(UTC)
            start, stop = end - timedelta(hours=hours), end + timedelta(seconds=1)
            points = [(p.time, p.value) for p in store.range(stream_id, start=start, end=stop, limit=10_000)]
            hourly = not points
            if hourly:  # readings older than the raw retention survive only as the hourly roll-up
                points = [(b.time, b.avg) for b in store.aggregate(stream_id, start=start, end=stop, interval="1h")]
    except XingchengError:
        return {"error": STORE_BUSY}
    return {"key": key, "title": f"{thing_name} · {label}" + ("（小时均值）" if hourly and points else ""),
            "unit": unit, "valid": (valid_min, valid_max),
            "points": [[t.astimezone(CITY_TZ).isoformat(), v] for t, v in points],
            "latest": newest[0] if newest else None}


def stream_options(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 56, "right": 24, "top": 40, "bottom": 40},
        "title": {"text": data.get("title", ""), "left": "center", "textStyle": {"fontSize": 14}},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "name": data.get("unit", ""), "scale": True},
        "series": [{"type": "line", "showSymbol": False, "smooth": True, "data": data.get("points", []),
                    "areaStyle": {"opacity": 0.08}}],
    }


# ---- alert board -----------------------------------------------------------------------------

def load_alerts() -> dict[str, Any]:
    with get_database().session_scope() as session:
        items, total = alerts.list_alerts(session, page=PageParams(limit=50, offset=0), status="live")
        names = {d.code: d.name for d in geo.districts()}
        rows = [{"id": a.id, "title": a.title, "severity": a.severity, "status": a.status, "thing_key": a.thing_key,
                 "district": names.get(a.division_code or "", "—"), "opened_at": format_time(a.opened_at),
                 "occurrences": a.occurrences, "value": a.value, "department_code": a.department_code}
                for a in items]
        stats = alerts.alert_stats(session)
    return {"rows": rows, "total": total, "stats": stats}


def move_alert(alert_id: int, to: str, user: auth.WebUser) -> None:
    with get_database().session_scope() as session:
        alerts.transition(session, alert_id=alert_id, to=to, actor=user.principal, note="控制台处置")


# ---- quality ---------------------------------------------------------------------------------

def load_quality(day: date | None, department: str | None) -> dict[str, Any]:
    try:
        with get_database().session_scope() as session, borrowed_store() as store:
            wanted = day or quality.latest_data_day(store)
            report = quality.compute_report(session, store=store, day=wanted, department_code=department or None)
    except XingchengError as exc:
        return {"error": exc.detail}
    return {"report": report}


def save_quality(day: date, user: auth.WebUser) -> None:
    with get_database().session_scope() as session, borrowed_store() as store:
        quality.save_daily_report(session, store=store, day=day, actor=user.principal)


def history_options(report: quality.QualityReport) -> dict[str, Any]:
    days = [h.day.isoformat() for h in report.history]
    return {
        "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
        "grid": {"left": 48, "right": 16, "top": 32, "bottom": 28},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value", "min": 0, "max": 100, "name": "%"},
        "series": [{"name": name, "type": "line", "data": [round(100 * v, 2) if v is not None else None for v in values]}
                   for name, values in (("完整率", [h.completeness for h in report.history]),
                                        ("有效率", [h.validity for h in report.history]),
                                        ("及时率", [h.timeliness for h in report.history]))],
    }


async def _map_ready(box: ui.element) -> bool:
    try:
        await ui.context.client.connected(timeout=30)
    except TimeoutError:
        return False
    try:
        await ui.run_javascript(geo.REGISTER_MAP_JS, timeout=20)
    except TimeoutError:
        with box:
            ui.label("地图数据加载失败，请刷新页面重试。").classes("text-orange-8")
        return False
    return True


def register(modules: Sequence[Module]) -> None:
    @console_page("/console/iot/devices", title="物联感知 · 设备分布", modules=modules)
    async def devices(user: auth.WebUser) -> None:
        data = await asyncio.to_thread(load_devices)
        with ui.row().classes("w-full gap-4"):
            labels = {}
            for state, name in STATUS_NAMES.items():
                with ui.card().classes("w-48").props(f"data-testid=iot-status-{state}"):
                    ui.label(name).classes("text-subtitle2").style(f"color: {STATUS_COLOURS[state]}")
                    labels[state] = ui.label(f"{data['counts'][state]:,} 台").classes("text-h5")
        note = ui.label(data["note"]).classes("text-caption text-grey-7")
        box = ui.element("div").classes("w-full").style("height: 560px").props("data-testid=iot-device-map")
        if not await _map_ready(box):
            return
        with box:
            chart = ui.echart(device_map_options(data["points"])).classes("w-full h-full")

        async def refresh() -> None:
            fresh = await asyncio.to_thread(load_devices)
            for state, label in labels.items():
                label.text = f"{fresh['counts'][state]:,} 台"
            note.text = fresh["note"]
            chart.options.update(device_map_options(fresh["points"]))
            chart.update()

        ui.timer(30, refresh)

    @console_page("/console/iot/streams", title="物联感知 · 监测曲线", modules=modules)
    async def streams(user: auth.WebUser) -> None:
        choices = await asyncio.to_thread(load_stream_choices)
        with ui.row().classes("w-full items-end gap-4"):
            thing = ui.input("设备编号", value=choices["thing_key"]).classes("w-64")
            prop = ui.select(choices["properties"], value=choices["property"], label="监测指标").classes("w-64")
            hours = ui.select({1: "近 1 小时", 6: "近 6 小时", 24: "近 24 小时"}, value=6, label="时间范围").classes("w-40")
            ui.button("查询", on_click=lambda: show()).props("data-testid=iot-stream-query")
        info = ui.label("").classes("text-body2 text-grey-8")
        chart = ui.echart(stream_options({})).classes("w-full").style("height: 420px").props("data-testid=iot-stream-chart")

        async def show() -> None:
            data = await asyncio.to_thread(load_stream, thing.value or "", prop.value, int(hours.value or 6))
            if "error" in data:
                info.text = data["error"]
                return
            latest = data["latest"]
            low, high = data["valid"]
            info.text = (f"{data['key']} · 最新值 {latest.value:g} {data['unit']}（{format_time(latest.time)}）"
                         if latest else f"{data['key']} · 暂无数据") + f" · 有效范围 {low} ~ {high}"
            chart.options.clear()
            chart.options.update(stream_options(data))
            chart.update()

        await show()
        ui.timer(10, show)  # live: the feed reports every few minutes per sensor

    @console_page("/console/iot/alerts", title="物联感知 · 预警处置", modules=modules)
    async def alert_board(user: auth.WebUser) -> None:
        can_handle = user.has("alerts:handle")
        summary = ui.label("").classes("text-body1")
        board = ui.column().classes("w-full gap-2").props("data-testid=iot-alert-board")

        async def act(alert_id: int, to: str) -> None:
            try:
                await asyncio.to_thread(move_alert, alert_id, to, user)
            except XingchengError as exc:
                ui.notify(exc.detail, type="negative")
                return
            ui.notify({"acknowledged": "已签收", "resolved": "已解除", "closed": "已关闭"}[to])
            await refresh()

        async def refresh() -> None:
            data = await asyncio.to_thread(load_alerts)
            stats = data["stats"]
            summary.text = (f"未处置 {stats.open} 条 · 处置中 {stats.acknowledged} 条"
                            + (f" · 签收中位时长 {stats.median_ack_seconds / 60:.1f} 分钟" if stats.median_ack_seconds else ""))
            board.clear()
            with board:
                if not data["rows"]:
                    ui.label("当前没有未处置的预警。").classes("text-grey-7")
                for row in data["rows"]:
                    with ui.card().classes("w-full").props(f"data-alert-id={row['id']}"), \
                            ui.row().classes("w-full items-center gap-3"):
                        ui.badge(SEVERITY_NAMES.get(row["severity"], row["severity"]),
                                 color=SEVERITY_COLOURS.get(row["severity"], "grey"))
                        ui.label(row["title"]).classes("text-subtitle1")
                        ui.label(f"{row['district']} · {row['thing_key'] or '—'} · 发生于 {row['opened_at']} · "
                                 f"累计 {row['occurrences']} 次" + (f" · 数值 {row['value']:g}" if row["value"] is not None
                                                                   else "")).classes("text-body2 text-grey-8")
                        ui.space()
                        ui.label(ALERT_STATUS.get(row["status"], row["status"])).classes("text-body2")
                        if can_handle:
                            alert_id = row["id"]
                            if row["status"] == "open":
                                ui.button("签收", on_click=lambda a=alert_id: act(a, "acknowledged")).props("dense")
                            ui.button("解除", on_click=lambda a=alert_id: act(a, "resolved")).props("dense color=positive")
                            ui.button("关闭", on_click=lambda a=alert_id: act(a, "closed")).props("dense flat")

        await refresh()
        ui.timer(15, refresh)

    @console_page("/console/iot/quality", title="物联感知 · 数据质量", modules=modules)
    async def quality_page(user: auth.WebUser) -> None:
        controls = ui.row().classes("w-full items-end gap-4")
        body = ui.column().classes("w-full gap-4").props("data-testid=iot-quality")

        async def show(day: date | None = None, department: str | None = None) -> None:
            data = await asyncio.to_thread(load_quality, day, department)
            body.clear()
            with body:
                if "error" in data:
                    ui.label(data["error"]).classes("text-orange-8")
                    return
                report: quality.QualityReport = data["report"]
                day_input.value = report.day.isoformat()
                s = report.summary
                with ui.row().classes("w-full gap-4"):
                    for title, value, good in (
                        ("完整率", s.completeness, s.completeness is None or s.completeness >= report.target),
                        ("有效率", s.validity, s.validity is None or s.validity >= report.target),
                        ("及时率", s.timeliness, True),
                    ):
                        with ui.card().classes("w-48"):
                            ui.label(title).classes("text-subtitle2 text-grey-7")
                            ui.label(_pct(value)).classes("text-h5 " + ("text-green-8" if good else "text-red-8"))
                    for title, number in (("数据流", s.datastreams), ("僵死传感器", s.stuck), ("静默传感器", s.silent),
                                          ("重复上报", s.duplicates), ("拒收", s.rejected)):
                        with ui.card().classes("w-36"):
                            ui.label(title).classes("text-subtitle2 text-grey-7")
                            ui.label(f"{number:,}").classes("text-h5")
                ui.label(f"统计窗口 {format_time(report.window_start)} 至 {format_time(report.window_end)}（北京时间），"
                         f"目标 ≥ {report.target:.0%}").classes("text-caption text-grey-7")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "right" if k != "name" else "left"}
                                  for k, t in (("name", "部门"), ("datastreams", "数据流"), ("expected", "应收"),
                                               ("received", "实收"), ("completeness", "完整率"), ("validity", "有效率"),
                                               ("timeliness", "及时率"), ("stuck", "僵死"), ("silent", "静默"))],
                         rows=[{"name": d.department_name, "datastreams": d.datastreams, "expected": f"{d.expected:,}",
                                "received": f"{d.received:,}", "completeness": _pct(d.completeness),
                                "validity": _pct(d.validity), "timeliness": _pct(d.timeliness), "stuck": d.stuck,
                                "silent": d.silent} for d in report.departments]).classes("w-full").props("dense flat")
                ui.label(f"问题数据流（共 {report.problem_total} 条，列出最严重的 {len(report.problems)} 条）").classes(
                    "text-subtitle1")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
                    ("key", "数据流"), ("thing", "设备"), ("completeness", "完整率"), ("validity", "有效率"),
                    ("flags", "问题"), ("last_seen", "最后上报"))],
                    rows=[{"key": p.key, "thing": p.thing_name, "completeness": _pct(p.completeness),
                           "validity": _pct(p.validity),
                           "flags": "、".join(f for f, on in (("静默", p.silent), ("僵死", p.stuck),
                                                              ("缺数", p.received < p.expected),
                                                              ("越限", p.valid < p.received)) if on),
                           "last_seen": format_time(p.last_seen) if p.last_seen else "—"} for p in report.problems],
                    pagination=20).classes("w-full").props("dense flat")
                ui.label("质量日报历史").classes("text-subtitle1")
                ui.label(f"每日 {runtime.QUALITY_REPORT_AT:%H:%M}（北京时间）自动保存前一日的全市日报；"
                         "也可点击“保存日报”随时保存或重算所选日期。").classes("text-caption text-grey-7")
                if not report.history:
                    ui.label("尚无已保存的日报。").classes("text-grey-7")
                    return
                ui.echart(history_options(report)).classes("w-full").style("height: 260px")
                ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left" if k == "day" else "right"}
                                  for k, t in (("day", "日期"), ("completeness", "完整率"), ("validity", "有效率"),
                                               ("timeliness", "及时率"), ("stuck", "僵死"), ("silent", "静默"))],
                         rows=[{"day": h.day.isoformat(), "completeness": _pct(h.completeness),
                                "validity": _pct(h.validity), "timeliness": _pct(h.timeliness), "stuck": h.stuck,
                                "silent": h.silent} for h in reversed(report.history)],
                         pagination=10).classes("w-full").props("dense flat data-testid=iot-quality-history")

        async def save() -> None:
            try:
                await asyncio.to_thread(save_quality, date.fromisoformat(day_input.value), user)
            except (XingchengError, ValueError) as exc:
                ui.notify(getattr(exc, "detail", str(exc)), type="negative")
                return
            ui.notify("已保存当日质量日报")
            await show(date.fromisoformat(day_input.value), department.value)

        def wanted_day() -> date | None:
            try:
                return date.fromisoformat(day_input.value)
            except (TypeError, ValueError):
                return None

        with controls:
            day_input = ui.input("日期（YYYY-MM-DD）").classes("w-48")
            department = ui.input("部门代码（留空为全市）").classes("w-48")
            ui.button("查询", on_click=lambda: show(wanted_day(), department.value or None))
            if user.has("iot:write"):
                ui.button("保存日报", on_click=save).props("outline")
        await show()
