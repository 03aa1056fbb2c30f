"""The sensing platform's declaration: API, `xingcheng iot` commands, the demo sensor network, console and cockpit."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module
from xingcheng.iot import alerts, runtime, service
from xingcheng.iot.api import router
from xingcheng.iot.cli import cli
from xingcheng.iot.demo import DEMO_STEPS
from xingcheng.iot.sta_api import router as sensorthings_router

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
    ),
    # DuckDB admits one writing process: the serving process owns the store file while it runs,
    # and sweeps for silent sensors.
    on_startup=runtime.start,
    on_shutdown=runtime.stop,
)
