"""The open-data declaration: staff publishing routes, the public CKAN/DCAT/download routes, the demo portal."""

from __future__ import annotations

from sqlalchemy import func, select

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.datahub.opendata.api import public_router, router
from xingcheng.datahub.opendata.demo import DEMO_STEPS
from xingcheng.datahub.opendata.service import public_ids

module = Module(
    name="opendata",
    router=router,
    public_router=public_router,  # open data is public by definition: L1 + published only (service.is_public)
    demo_steps=DEMO_STEPS,
    nav=(NavEntry("datahub", "数据开放门户", "/open", icon="public", permission="catalog:read"),),
    cockpit_cards=(
        CockpitCard("opendata_packages", "开放数据集",
                    lambda s: int(s.scalar(select(func.count()).select_from(public_ids().subquery())) or 0),
                    unit="个", order=35),
    ),
)
