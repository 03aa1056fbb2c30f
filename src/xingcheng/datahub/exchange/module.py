"""The sharing exchange's declaration: routes, the push CLI, the demo flows, console entry and cockpit counters."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.datahub.exchange.api import router
from xingcheng.datahub.exchange.cli import cli
from xingcheng.datahub.exchange.demo import DEMO_STEPS
from xingcheng.datahub.exchange.stats import active_grants, total_records

module = Module(
    name="exchange",
    router=router,
    cli=cli,
    cli_name="exchange",
    demo_steps=DEMO_STEPS,
    nav=(NavEntry("datahub", "共享交换", "/console/datahub/exchange", icon="swap_horiz", permission="exchange:read"),),
    cockpit_cards=(
        CockpitCard("exchange_records", "累计共享交换记录", total_records, unit="条", order=33),
        CockpitCard("exchange_active_grants", "有效共享授权", active_grants, unit="项", order=34),
    ),
)
