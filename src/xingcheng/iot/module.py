"""The sensing platform's declaration: API, `xingcheng iot` commands, the demo sensor network, console and cockpit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.identity.models import Division
from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.iot import alerts, quality, runtime, service
from xingcheng.iot.api import router
from xingcheng.iot.cli import cli
from xingcheng.iot.demo import DEMO_STEPS
from xingcheng.iot.sta_api import router as sensorthings_router
from xingcheng.iot.store import borrowed_store


def _live_sensors(session: Session) -> int:
    with borrowed_store() as store:
        return quality.live_sensor_count(session, store)


def _observations_today(_session: Session) -> int:
    with borrowed_store() as store:
        return quality.observations_today(store)


def _alerts_by_district(session: Session) -> str:
    by_division = alerts.alert_stats(session).by_division
    if not by_division:
        return "无"
    names = dict(session.execute(select(Division.code, Division.name).where(Division.code.in_(list(by_division)))).all())
    top = sorted(by_division.items(), key=lambda item: (-item[1], item[0]))[:3]
    return " · ".join(f"{names.get(code, '其他')} {n}" for code, n in top)

module = Module(
    name="iot",
    router=router,
    public_router=sensorthings_router,  # OGC SensorThings under /sta/v1.1; its routes still require iot:read
    cli=cli,
    cli_name="iot",
    demo_steps=DEMO_STEPS,
    cockpit_cards=(
        CockpitCard("iot_things", "在网感知设备", lambda s: service.count_things(s), unit="台", order=30),
        CockpitCard("iot_live_alerts", "未处置预警", lambda s: alerts.count_live(s), unit="条", order=31),
        CockpitCard("iot_live_sensors", "实时在线设备", _live_sensors, unit="台", order=32),
        CockpitCard("iot_observations_today", "今日感知数据", _observations_today, unit="条", order=33),
        CockpitCard("iot_alerts_by_district", "预警最多的区县", _alerts_by_district, order=34),
    ),
    nav=(
        NavEntry("iot", "设备分布", "/console/iot/devices", icon="sensors", permission="iot:read"),
        NavEntry("iot", "监测曲线", "/console/iot/streams", icon="show_chart", permission="iot:read"),
        NavEntry("iot", "预警处置", "/console/iot/alerts", icon="notification_important", permission="iot:read"),
        NavEntry("iot", "数据质量", "/console/iot/quality", icon="fact_check", permission="iot:read"),
    ),
    # DuckDB admits one writing process: the serving process owns the store file while it runs,
    # and sweeps for silent sensors.
    on_startup=runtime.start,
    on_shutdown=runtime.stop,
)
