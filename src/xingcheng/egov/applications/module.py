"""Online applications' declaration: routes (applicant, clerk, public KPIs), demo runs, nav, cockpit cards."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.egov.applications import kpis
from xingcheng.egov.applications.api import public_router, router
from xingcheng.egov.applications.demo import DEMO_STEPS

module = Module(
    name="applications",
    router=router,
    # Public on purpose: only the aggregate KPIs (the city publishes 好差评 and on-time figures).
    public_router=public_router,
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("egov", "办件审批", "/console/applications", icon="assignment", permission="workflow:task"),
        NavEntry("egov", "政务服务绩效", "/console/applications/kpis", icon="insights", permission="applications:read"),
    ),
    cockpit_cards=(
        CockpitCard("applications_finished", "办结件数", kpis.finished_count, unit="件", order=33),
        CockpitCard("applications_on_time", "按时办结率", kpis.on_time_percent, unit="%", order=34),
        CockpitCard("applications_satisfaction", "好差评好评率", kpis.satisfaction_percent, unit="%", order=35),
    ),
)
