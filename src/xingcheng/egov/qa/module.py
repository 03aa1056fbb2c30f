"""The Q&A finder's declaration: public ask/feedback/FAQ routes, staff log and FAQ editor, CLI,
FAQ demo seed, console pages and a cockpit card."""

from __future__ import annotations

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.egov.qa import service
from xingcheng.egov.qa.api import public_router, router
from xingcheng.egov.qa.cli import cli
from xingcheng.egov.qa.demo import DEMO_STEPS

module = Module(
    name="qa",
    router=router,
    # Public on purpose: citizens ask the finder on the portal before any login.
    public_router=public_router,
    cli=cli,
    cli_name="qa",
    demo_steps=DEMO_STEPS,
    nav=(
        NavEntry("egov", "智能问答", "/console/egov/qa", icon="question_answer", permission="qa:manage"),
    ),
    cockpit_cards=(
        CockpitCard("qa_answered_rate", "智能问答应答率", service.answered_rate_percent, unit="%", order=33),
    ),
)
