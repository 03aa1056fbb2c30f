"""The service catalogue's declaration: public browse routes, staff edits, demo catalogue, cockpit cards."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module
from xingcheng.egov.services import service
from xingcheng.egov.services.api import public_router, router
from xingcheng.egov.services.demo import DEMO_STEPS

module = Module(
    name="services",
    router=router,
    # Public on purpose: the 一网通办 catalogue and guides are read by citizens before any login.
    public_router=public_router,
    demo_steps=DEMO_STEPS,
    cockpit_cards=(
        CockpitCard("service_items", "政务服务事项", service.count_items, unit="项", order=30),
        CockpitCard("service_online_rate", "网上可办率", service.online_rate_percent, unit="%", order=31),
        CockpitCard("service_implementations", "实施清单条目", service.count_implementations, unit="条", order=32),
    ),
)
