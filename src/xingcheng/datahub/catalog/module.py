"""The catalogue's declaration: routes, the demo catalogue, console entries and a cockpit headline."""

from __future__ import annotations

from sqlalchemy import func, select

from xingcheng.core.registry import CockpitCard, Module, NavEntry
from xingcheng.datahub.catalog.api import router
from xingcheng.datahub.catalog.demo import DEMO_STEPS
from xingcheng.datahub.catalog.models import Dataset

module = Module(
    name="catalog",
    router=router,
    demo_steps=DEMO_STEPS,
    nav=(NavEntry("datahub", "数据资源目录", "/console/datahub/catalog", icon="dataset", permission="catalog:read"),),
    cockpit_cards=(
        CockpitCard("catalog_datasets", "数据资源目录", lambda s: int(s.scalar(select(func.count()).select_from(Dataset)) or 0),
                    unit="个", order=30),
    ),
)
