"""The traffic area's declaration: API, CLI, demo corridor, console page, cockpit card."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.governance.traffic import service
from xingcheng.governance.traffic.api import router
from xingcheng.governance.traffic.cli import cli
from xingcheng.governance.traffic.demo import DEMO_STEPS

module = Module(
    name="traffic",
    router=router,
    cli=cli,
    cli_name="traffic",
    demo_steps=DEMO_STEPS,
    nav=(NavEntry("governance", "智慧交通", "/console/traffic", icon="traffic", permission="traffic:read"),),
    cockpit_cards=(
        CockpitCard("traffic_city_index", "城市交通运行指数（较上周同期）", service.city_index_now, order=40),
    ),
)
