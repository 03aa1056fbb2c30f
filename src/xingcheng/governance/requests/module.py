"""Citizen requests' declaration: API, Open311, `xingcheng requests`, demo requests, console, cockpit."""

from __future__ import annotations

from fastapi import APIRouter

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.governance.requests import analytics, runtime
from xingcheng.governance.requests.api import public_router as api_public_router
from xingcheng.governance.requests.api import router
from xingcheng.governance.requests.cli import cli
from xingcheng.governance.requests.demo import DEMO_STEPS
from xingcheng.governance.requests.open311 import public_router as open311_router

# Public on purpose: Open311 reads are open by the spec (POST checks its api_key itself), and the
# category list is what the portal shows before a citizen logs in.
public_router = APIRouter()
public_router.include_router(api_public_router)
public_router.include_router(open311_router)


module = Module(
    name="requests",
    router=router,
    public_router=public_router,
    cli=cli,
    cli_name="requests",
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("governance", "诉求派单", "/console/requests/dispatch", icon="call_split", permission="requests:dispatch"),
        NavEntry("governance", "诉求办理", "/console/requests/inbox", icon="inbox", permission="requests:handle"),
        NavEntry("governance", "诉求分析", "/console/requests/analytics", icon="insights", permission="requests:read"),
    ),
    cockpit_cards=(
        CockpitCard("requests_open", "在办民生诉求", analytics.open_requests, unit="件", order=40),
        CockpitCard("requests_handling_days", "诉求平均办理时长", analytics.avg_handling_days, unit="天", order=41),
        CockpitCard("requests_satisfaction", "诉求满意率", analytics.satisfaction_percent, unit="%", order=42),
    ),
    on_startup=runtime.start,
    on_shutdown=runtime.stop,
)
