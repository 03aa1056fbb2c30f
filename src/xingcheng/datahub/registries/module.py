"""The registries' declaration: routes, demo population and enterprises, cockpit headline cards."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.datahub.registries import service
from xingcheng.datahub.registries.api import public_router, router
from xingcheng.datahub.registries.demo import DEMO_STEPS

module = Module(
    name="registries",
    router=router,
    public_router=public_router,  # licence verification and district boundaries are public by design
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("datahub", "人口库", "/console/datahub/persons", icon="people", permission="registries:read"),
        NavEntry("datahub", "法人库", "/console/datahub/legal-entities", icon="business", permission="registries:read"),
        NavEntry("datahub", "基础库概览", "/console/datahub/registries", icon="hub", permission="registries:read"),
        NavEntry("datahub", "多源校核", "/console/datahub/registries/conflicts", icon="rule", permission="registries:write"),
    ),
    cockpit_cards=(
        CockpitCard("persons", "实有人口（样本）", lambda s: service.count_persons(s), unit="人", order=10),
        CockpitCard(
            "legal_entities", "在册市场主体", lambda s: service.count_legal_entities(s, active_only=True), unit="户", order=20
        ),
    ),
)
