"""Demo step ``opendata``: the open portal — every L1 catalogue dataset plus the city's typical open datasets.

The catalogue step already registered ~360 L1 datasets (名录, 统计, 服务点位 …). This step adds 25
topics Changsha's portal publishes (公共厕所分布, 公交站点, 停车场, 幼儿园名录, 空气质量日报,
政府采购公告 …), city-wide and per district, through the catalogue's own ``create_dataset`` and
``append_table``, then publishes the L1 datasets (a few stay unpublished, as on a real portal).
Rows are generated column-wise with numpy/Arrow: small by default, ≥ 10M in total with ``--scale city``.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal, Role
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.catalog import bulk
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.demo import _rows as catalog_rows
from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.catalog.schemas import DatasetCreate, FieldSpec
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.opendata import service
from xingcheng.datahub.opendata.demo_topics import DISTRICTS, PROJECTS, ROADS, TOPICS
from xingcheng.datahub.registries.models import LegalEntity

AT = datetime(2026, 11, 2, tzinfo=UTC)
ROWS: dict[str, tuple[int, int]] = {"small": (6, 16), "city": (40_000, 42_000)}
FILL_ROWS: dict[str, tuple[int, int]] = {"small": (5, 12), "city": (500, 2_000)}
# Column layouts of the catalogue demo's L1 profiles (datahub/catalog/demo.py: profile_fields).
PROFILE_COLUMNS = {
    "org": ["credit_code", "org_name", "address", "division_code", "registered_on"],
    "stats": ["period", "division_code", "indicator", "value", "unit"],
    "points": ["point_name", "address", "division_code", "lng", "lat", "opening_hours"],
}
UNPUBLISHED_SHARE = 0.03  # L1 datasets left unpublished (still in review), as on a real portal
DEMO_PUBLISHER = Principal(kind="system", name="demo", roles=frozenset({Role.ADMIN}))
_CODES = list(DISTRICTS)
_DISTRICT_NAMES = pa.array([DISTRICTS[c][0] for c in _CODES], pa.string())
_ROADS = pa.array(ROADS, pa.string())


def _pool(values: Any) -> pa.Array:
    return pa.array([str(v) for v in values], pa.string())


def _join(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def column(gen: tuple[Any, ...], n: int, rng: np.random.Generator, district_idx: np.ndarray) -> pa.Array:
    """``n`` values of one generated column (``district_idx``: the row's district, an index into DISTRICTS)."""
    kind, args = gen[0], gen[1:]
    if kind in ("poi", "address"):
        names = _DISTRICT_NAMES.take(pa.array(district_idx))
        roads = _ROADS.take(pa.array(rng.integers(0, len(ROADS), n)))
    if kind == "district":
        return _pool(_CODES).take(pa.array(district_idx))
    if kind in ("lng", "lat"):
        centres = np.array([DISTRICTS[c][1 if kind == "lng" else 2] for c in _CODES])[district_idx]
        return pa.array(np.round(centres + rng.normal(0, 0.02, n), 6))
    if kind == "poi":
        suffix = _pool(("", "", "", "（东）", "（西）", "（南）", "（北）", "二期")).take(pa.array(rng.integers(0, 8, n)))
        return _join(names, roads, pa.array([args[0]] * n, pa.string()), suffix)
    if kind == "address":
        numbers = pa.array((rng.integers(1, 400, n)).astype(str))
        return _join(pa.array(["长沙市"] * n), names, roads, numbers, pa.array(["号"] * n))
    if kind in ("pick", "choice"):
        choices = args if kind == "pick" else args[0]
        return _pool(choices).take(pa.array(rng.integers(0, len(choices), n)))
    if kind == "int":
        return pa.array(rng.integers(args[0], args[1] + 1, n), pa.int64())
    if kind == "float":
        return pa.array(np.round(rng.uniform(args[0], args[1], n), 2))
    if kind == "seq":
        return _join(pa.array([args[0]] * n), pa.array(np.char.zfill(np.arange(1, n + 1).astype(str), 6)))
    if kind in ("daily", "monthly"):
        step = np.arange(n) // len(_CODES)
        if kind == "daily":
            days = np.datetime64("2026-11-24") - step.astype("timedelta64[D]")
        else:
            days = (np.datetime64("2026-10") - step.astype("timedelta64[M]")).astype("datetime64[D]")
        return pa.array(days, pa.date32())
    if kind == "date":
        return pa.array(np.datetime64("2026-11-24") - rng.integers(0, 730, n).astype("timedelta64[D]"), pa.date32())
    if kind == "timestamp":
        seconds = rng.integers(0, 330 * 86_400, n) // 3600 * 3600
        stamps = np.datetime64("2026-01-01T00:00:00") + seconds.astype("timedelta64[s]")
        return pa.array(stamps, pa.timestamp("s")).cast(pa.timestamp("s", tz="UTC"))
    if kind == "hotline":
        return _join(pa.array(["0731-8"] * n), pa.array(rng.integers(1_000_000, 9_999_999, n).astype(str)))
    if kind == "lines":
        first, second = rng.integers(1, 420, n).astype(str), rng.integers(1, 420, n).astype(str)
        return _join(pa.array(first), pa.array(["路、"] * n), pa.array(second), pa.array(["路"] * n))
    if kind == "project":
        years = rng.choice(["2026年", "2027年"], n)
        return _join(pa.array(years), _pool(PROJECTS).take(pa.array(rng.integers(0, len(PROJECTS), n))),
                     pa.array(["项目"] * n))
    raise ValueError(f"unknown generator {kind!r}")


def topic_table(fields: tuple[tuple[str, str, str, tuple[Any, ...]], ...], n: int, rng: np.random.Generator,
                district: str | None) -> pa.Table:
    district_idx = (np.full(n, _CODES.index(district)) if district else rng.integers(0, len(_CODES), n))
    specs = [{"name": name, "type": type_} for name, _, type_, _ in fields]
    return pa.table({name: column(gen, n, rng, district_idx) for name, _, _, gen in fields}, schema=arrow_schema(specs))


def entries() -> list[tuple[DatasetCreate, tuple[Any, ...], str | None]]:
    """Every open-data topic city-wide and per district, as catalogue entries with their generators."""
    out = []
    for key, department, title, tags, frequency, fields in TOPICS:
        specs = [FieldSpec(name=name, title=label, type=type_) for name, label, type_, _ in fields]
        for district in (None, *DISTRICTS):
            where = DISTRICTS[district][0] if district else ""
            out.append((DatasetCreate(
                owner_department_code=department, name=f"{key}-{district}" if district else key,
                title=f"长沙市{where}{title}", category="thematic" if "date" in {s.type for s in specs} else "base",
                grade="L1", update_frequency=frequency, source_system="长沙市公共数据开放平台",
                description=(f"长沙市{where}{title}，{'按区县汇总' if not district else '本区县范围'}，"
                             "面向社会开放，可下载 CSV、JSON、Parquet。"),
                tags=[*tags, *( [where] if where else [])], spatial_coverage=[district or "430100"],
                temporal_start=date(2024, 1, 1), licence="CC-BY-4.0", fields=specs), fields, district))
    return out


def load_opendata(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("opendata")
    generator = np.random.default_rng(rng.randrange(2**32))
    low, high = ROWS[ctx.scale]
    planned = entries()
    batch = 25 if ctx.scale == "city" else len(planned)  # city scale: bounded memory, 25 tables at a time
    for start in range(0, len(planned), batch):
        chunk = planned[start:start + batch]
        items = [(data, topic_table(fields, int(generator.integers(low, high + 1)), generator, district))
                 for data, fields, district in chunk]
        bulk.register_many(session, items, creator=DEMO_PUBLISHER, now=AT)
        ctx.progress("open datasets", start + len(chunk), len(planned))
    held_rng = random.Random(rng.random())  # drawn before the fill, so the fill's draws never change what is held
    fill_empty(session, ctx, rng)
    publish_all(session, held_rng)


def fill_empty(session: Session, ctx: DemoContext, rng: random.Random) -> None:
    """Rows for the catalogue's L1 entries that have none yet, so every open dataset has something to download."""
    empty = list(session.scalars(select(Dataset).where(Dataset.grade == service.PUBLIC_GRADE, Dataset.row_count == 0)
                                 .order_by(Dataset.slug)))
    entities = session.execute(select(LegalEntity.credit_code, LegalEntity.name, LegalEntity.address,
                                      LegalEntity.division_code, LegalEntity.established_date)
                               .order_by(LegalEntity.id).limit(2_000)).all()
    low, high = FILL_ROWS[ctx.scale]
    items = []
    for dataset in empty:
        fields = catalog.current_fields(session, dataset)
        names = [f["name"] for f in fields]
        profile = next((p for p, cols in PROFILE_COLUMNS.items() if cols == names), None)
        if profile is None:
            continue
        columns = catalog_rows(rng, profile, rng.randint(low, high), [], list(entities))
        items.append((dataset, pa.table(columns, schema=arrow_schema(fields))))
    bulk.append_many(session, items, actor="demo", now=AT)


def publish_all(session: Session, rng: random.Random) -> None:
    """Publish the L1 datasets; a small share of the catalogue's own entries stays in review (never the topics above)."""
    topics = {f"{d.owner_department_code}/{d.name}" for d, _, _ in entries()}
    l1 = list(session.scalars(select(Dataset).where(Dataset.grade == service.PUBLIC_GRADE).order_by(Dataset.slug)))
    candidates = [d for d in l1 if d.slug not in topics]
    held = {d.slug for d in rng.sample(candidates, k=int(len(l1) * UNPUBLISHED_SHARE))}
    service.publish_many(session, [d for d in l1 if d.slug not in held], actor="demo", now=AT)


DEMO_STEPS = [
    DemoStep("opendata", load_opendata, depends_on=("catalog",),
             description="open data portal: 500+ published L1 datasets with CSV/JSON/Parquet downloads"),
]
