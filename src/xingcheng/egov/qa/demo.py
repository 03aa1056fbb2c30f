"""Demo step: the curated FAQ seed (常见问题) for the most asked items."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.egov.qa.models import QaFaq
from xingcheng.egov.services.models import ServiceItem

RECORDED_AT = datetime(2026, 11, 1, tzinfo=UTC)


def read_faq_seed() -> list[dict[str, str]]:
    """``data/faq_seed.jsonl``: one {"item_code", "question", "answer"} per line."""
    text = resources.files("xingcheng.egov.qa").joinpath("data", "faq_seed.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_faq(session: Session, ctx: DemoContext) -> None:
    known = set(session.scalars(select(ServiceItem.code)))
    rows: list[dict[str, Any]] = [
        {**pair, "updated_by": "demo", "created_at": RECORDED_AT, "updated_at": RECORDED_AT}
        for pair in read_faq_seed() if pair["item_code"] in known
    ]
    if rows:
        session.execute(insert(cast(Table, QaFaq.__table__)), rows)
    ctx.facts["qa_faq_pairs"] = len(rows)
    ctx.progress("Q&A FAQ", len(rows), len(rows))


DEMO_STEPS = [
    DemoStep("qa_faq", load_faq, depends_on=("service_items",), description="curated FAQ pairs for the Q&A"),
]
