"""The policy package's declaration: routes, CLI, demo policies and campaigns, console pages, cockpit cards."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.egov.policy import service
from xingcheng.egov.policy.api import router
from xingcheng.egov.policy.cli import cli
from xingcheng.egov.policy.demo import DEMO_STEPS

module = Module(
    name="policy",
    router=router,
    cli=cli,
    cli_name="policy",
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("egov", "惠企政策", "/console/egov/policy", icon="volunteer_activism", permission="policy:read"),
    ),
    cockpit_cards=(
        CockpitCard("policy_pushes_month", "本月政策推送", service.pushes_this_month, unit="次", order=35),
        CockpitCard("policy_granted_month", "本月免申即享兑现", service.granted_wan_this_month, unit="万元", order=36),
    ),
)
