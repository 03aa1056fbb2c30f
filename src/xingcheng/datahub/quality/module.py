"""Data quality's declaration: routes, the ``quality`` CLI, the demo defects and first reports, a cockpit card."""

from __future__ import annotations

from sqlalchemy.orm import Session

from xingcheng.core.registry import CockpitCard, DemoStep, Module, NavEntry
from xingcheng.datahub.quality import service
from xingcheng.datahub.quality.api import router
from xingcheng.datahub.quality.cli import cli
from xingcheng.datahub.quality.demo import first_reports, inject_defects


def _person_completeness(session: Session) -> str:
    report = service.latest_report(session, "registry:person")
    return "—" if report is None else f"{report.metrics['completeness'] * 100:.2f}"


module = Module(
    name="quality",
    router=router,
    cli=cli,
    cli_name="quality",
    demo_steps=(
        DemoStep("quality_defects", inject_defects,
                 depends_on=("licences", "standard_addresses", "registry_claims", "citizen_accounts"),
                 description="labelled defects in the registers (1.5 % bad ID check digits, missing phones, duplicates …)"),
        DemoStep("quality_reports", first_reports, depends_on=("quality_defects",),
                 description="the first quality reports of the population and legal-entity registers"),
    ),
    nav=(NavEntry("datahub", "数据质量", "/console/datahub/quality", icon="fact_check", permission="quality:read"),),
    cockpit_cards=(CockpitCard("person_completeness", "人口库完整率", _person_completeness, unit="%", order=25),),
)
