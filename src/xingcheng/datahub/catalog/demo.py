"""Demo step ``catalog``: a Changsha data catalogue of 500+ datasets across the 60 departments.

Titles come from two small tables in ``data/``: two topics per department (``topics.csv``) and six
dataset patterns (``patterns.csv``: 名录, 月度统计, 年度统计, 业务办理记录, 人员信息, 服务点位),
each with a category, a grade and a field profile; ``featured.csv`` adds well-known entries
(长沙市企业登记信息, 空气质量小时数据, 不动产登记簿 …). The population and legal-entity
registries are exported to Parquet as datasets of their own; a subset of the others gets rows.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, cast

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.identity.models import Department
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.catalog import search as index
from xingcheng.datahub.catalog.models import Dataset, DatasetSchema, DatasetTag, SearchToken
from xingcheng.datahub.catalog.service import append_table
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.registries.models import LegalEntity, Person

ACTOR = "demo"
AT = datetime(2026, 11, 1, tzinfo=UTC)
WITH_ROWS = {"small": 24, "city": 240}  # besides the registries and the featured entries
ROWS = {"small": (40, 120), "city": (2_000, 8_000)}
DISTRICTS = ["430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182"]


def _f(name: str, title: str, type_: str = "string", kind: str = "free", grade: str = "L1", required: bool = False,
       ) -> dict[str, Any]:
    return {"name": name, "title": title, "type": type_, "kind": kind, "grade": grade, "required": required}


def profile_fields(profile: str, grade: str) -> list[dict[str, Any]]:
    personal = "L4" if grade == "L4" else "L3"
    return {
        "org": [_f("credit_code", "统一社会信用代码", kind="credit_code", required=True),
                _f("org_name", "单位名称", required=True), _f("address", "地址"), _f("division_code", "所在区县"),
                _f("registered_on", "登记日期", "date")],
        "stats": [_f("period", "统计期", "date", required=True), _f("division_code", "区县代码"), _f("indicator", "指标名称"),
                  _f("value", "数值", "float"), _f("unit", "计量单位")],
        "records": [_f("record_no", "办件编号", grade="L2", required=True), _f("item", "事项名称"), _f("status", "办理状态"),
                    _f("handled_at", "办结时间", "timestamp"), _f("division_code", "所在区县")],
        "persons": [_f("id_number", "公民身份号码", kind="id_number", grade=personal, required=True),
                    _f("name", "姓名", kind="name", grade="L3"), _f("phone", "联系电话", kind="phone", grade="L3"),
                    _f("address", "居住地址", kind="address", grade="L3"), _f("division_code", "所在区县"),
                    _f("registered_on", "登记日期", "date", grade="L2")],
        "points": [_f("point_name", "点位名称", required=True), _f("address", "地址"), _f("division_code", "所在区县"),
                   _f("lng", "经度", "float"), _f("lat", "纬度", "float"), _f("opening_hours", "开放时间")],
    }[profile]


# The same grades as the registry's own field table (registries.sources.DEFAULT_OWNERS): one grade per field.
POPULATION_FIELDS = [
    _f("id_number", "公民身份号码", kind="id_number", grade="L3", required=True), _f("name", "姓名", kind="name", grade="L3"),
    _f("gender", "性别", grade="L2"), _f("birth_date", "出生日期", "date", grade="L2"),
    _f("division_code", "户籍区县", grade="L2"), _f("residence_address", "居住地址", kind="address", grade="L3"),
    _f("phone", "联系电话", kind="phone", grade="L4"),
]
ENTITY_FIELDS = [
    _f("credit_code", "统一社会信用代码", kind="credit_code", required=True), _f("name", "名称", required=True),
    _f("entity_type", "主体类型"), _f("industry_code", "行业代码"), _f("status", "登记状态"), _f("division_code", "所在区县"),
    _f("address", "住所"), _f("legal_representative_name", "法定代表人", kind="name", grade="L2"),
    _f("legal_representative_id_number", "法定代表人身份证号", kind="id_number", grade="L3"),
    _f("registered_capital_yuan", "注册资本（元）", "int"), _f("established_date", "成立日期", "date"),
]


def _table(name: str) -> list[dict[str, str]]:
    with resources.files("xingcheng.datahub.catalog").joinpath("data", name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def plan(rng: random.Random, departments: dict[str, str]) -> list[dict[str, Any]]:
    """Every demo dataset as plain values: the featured ones, the registries, then topic × pattern."""
    entries: list[dict[str, Any]] = []
    for row in _table("featured.csv"):
        entries.append({**row, "tags": row["tags"].split(";"), "fields": profile_fields(row["profile"], row["grade"])})
    entries.append({"department": "gaj", "name": "population-register", "title": "人口基础信息库", "category": "base",
                    "grade": "L4", "frequency": "daily", "profile": "population", "tags": ["人口", "基础库"],
                    "description": "长沙市人口基础信息库（四大基础库之一），汇聚户籍与居住信息，属核心数据。",
                    "fields": POPULATION_FIELDS})
    entries.append({"department": "scj", "name": "legal-entity-register", "title": "法人单位基础信息库", "category": "base",
                    "grade": "L3", "frequency": "daily", "profile": "entities", "tags": ["法人", "基础库", "企业"],
                    "description": "长沙市法人单位基础信息库（四大基础库之一），含市场主体登记与法定代表人信息。",
                    "fields": ENTITY_FIELDS})
    patterns = _table("patterns.csv")
    for topic in _table("topics.csv"):
        department = topic["department"]
        for pattern in rng.sample(patterns, k=rng.choice((4, 5))):
            entries.append({
                "department": department, "name": f"{topic['topic']}-{pattern['suffix']}",
                "title": pattern["title"].format(topic=topic["title"]), "category": pattern["category"],
                "grade": pattern["grade"], "frequency": pattern["frequency"], "profile": pattern["profile"],
                "tags": topic["tags"].split(";"),
                "description": pattern["description"].format(topic=topic["title"], department=departments[department]),
                "fields": profile_fields(pattern["profile"], pattern["grade"]),
            })
    return entries


def _rows(rng: random.Random, profile: str, count: int, persons: list[Any], entities: list[Any]) -> dict[str, list[Any]]:
    """Column lists for ``count`` synthetic rows of a profile (persons and entities drawn from the registries)."""
    districts = [rng.choice(DISTRICTS) for _ in range(count)]
    days = [date(2024, 1, 1) + timedelta(days=rng.randrange(1000)) for _ in range(count)]
    if profile == "org":
        picked = [rng.choice(entities) for _ in range(count)]
        return {"credit_code": [e.credit_code for e in picked], "org_name": [e.name for e in picked],
                "address": [e.address for e in picked], "division_code": [e.division_code for e in picked],
                "registered_on": [e.established_date for e in picked]}
    if profile == "persons":
        chosen = [rng.choice(persons) for _ in range(count)]
        return {"id_number": [p.id_number for p in chosen], "name": [p.name for p in chosen],
                "phone": [p.phone for p in chosen], "address": [p.residence_address for p in chosen],
                "division_code": [p.division_code for p in chosen], "registered_on": days}
    if profile == "stats":
        return {"period": [date(2024 + i // 12 % 3, i % 12 + 1, 1) for i in range(count)], "division_code": districts,
                "indicator": [rng.choice(("总量", "同比增长", "环比增长")) for _ in range(count)],
                "value": [round(rng.uniform(0, 1000), 2) for _ in range(count)],
                "unit": [rng.choice(("万元", "%", "件", "人次")) for _ in range(count)]}
    if profile == "records":
        return {"record_no": [f"CS{d:%Y%m%d}{i:06d}" for i, d in enumerate(days)],
                "item": [rng.choice(("受理", "审查", "决定", "送达")) + "环节" for _ in range(count)],
                "status": [rng.choice(("办结", "在办", "退回")) for _ in range(count)],
                "handled_at": [datetime(d.year, d.month, d.day, rng.randrange(8, 18), tzinfo=UTC) for d in days],
                "division_code": districts}
    return {"point_name": [f"{rng.choice(('东', '西', '南', '北', '中'))}区第{i + 1}服务点" for i in range(count)],
            "address": [f"长沙市{rng.choice(('芙蓉区', '天心区', '岳麓区', '开福区', '雨花区'))}{rng.randrange(1, 300)}号"
                        for _ in range(count)],
            "division_code": districts, "lng": [round(rng.uniform(112.8, 113.2), 6) for _ in range(count)],
            "lat": [round(rng.uniform(28.0, 28.4), 6) for _ in range(count)],
            "opening_hours": [rng.choice(("09:00-17:00", "08:30-18:00", "全天")) for _ in range(count)]}


def _registry_table(session: Session, profile: str, fields: list[dict[str, Any]]) -> pa.Table:
    model: type[Person] | type[LegalEntity] = Person if profile == "population" else LegalEntity
    columns = [getattr(model, f["name"]) for f in fields]
    rows = session.execute(select(*columns).order_by(model.id)).all()
    data = {f["name"]: [r[i] for r in rows] for i, f in enumerate(fields)}
    return pa.table(data, schema=arrow_schema(fields))


def load_catalog(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("catalog")
    departments = dict(session.execute(select(Department.code, Department.name)).all())
    entries = [e for e in plan(rng, departments) if e["department"] in departments]
    datasets = [{
        "slug": f"{e['department']}/{e['name']}", "owner_department_code": e["department"], "name": e["name"],
        "title": e["title"] if e["title"].startswith(("长沙", "国")) else f"长沙市{e['title']}",
        "description": e["description"], "category": e["category"], "grade": e["grade"], "update_frequency": e["frequency"],
        "source_system": f"{departments[e['department']]}业务系统", "tags": e["tags"], "spatial_coverage": ["430100"],
        "temporal_start": date(2018, 1, 1), "temporal_end": None, "licence": "CC-BY-4.0" if e["grade"] == "L1" else "",
        "schema_version": 1, "row_count": 0, "last_row_update": None, "search_length": 0, "created_at": AT, "updated_at": AT,
    } for e in entries]
    session.execute(insert(cast(Table, Dataset.__table__)), datasets)
    ids = dict(session.execute(select(Dataset.slug, Dataset.id)).all())
    schemas: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    lengths: dict[int, int] = {}
    for entry, values in zip(entries, datasets, strict=True):
        dataset_id = ids[values["slug"]]
        schemas.append({"dataset_id": dataset_id, "version": 1, "fields": entry["fields"], "created_at": AT, "created_by": ACTOR})
        tags.extend({"dataset_id": dataset_id, "tag": t} for t in dict.fromkeys(entry["tags"]))
        doc = index.document(Dataset(**values), [f"{f['title']} {f['name']}" for f in entry["fields"]])
        tokens.extend({"dataset_id": dataset_id, "token": t, "tf": tf} for t, tf in doc.items())
        lengths[dataset_id] = max(1, round(sum(doc.values())))
    for model, rows in ((DatasetSchema, schemas), (DatasetTag, tags), (SearchToken, tokens)):
        session.execute(insert(cast(Table, model.__table__)), rows)
    for dataset in session.scalars(select(Dataset)):
        dataset.search_length = lengths[dataset.id]
    ctx.progress("catalogue datasets", len(entries), len(entries))
    _load_rows(session, ctx, rng, entries, ids)


def _load_rows(session: Session, ctx: DemoContext, rng: random.Random, entries: list[dict[str, Any]],
               ids: dict[str, int]) -> None:
    persons = session.execute(select(Person.id_number, Person.name, Person.phone, Person.residence_address,
                                     Person.division_code).order_by(Person.id).limit(5_000)).all()
    entities = session.execute(select(LegalEntity.credit_code, LegalEntity.name, LegalEntity.address,
                                      LegalEntity.division_code, LegalEntity.established_date)
                               .order_by(LegalEntity.id).limit(5_000)).all()
    special = [e for e in entries if e["profile"] in ("population", "entities")]
    featured = [e for e in entries[:len(entries) - len(special)] if e["name"] in {r["name"] for r in _table("featured.csv")}]
    others = [e for e in entries if e not in special and e not in featured]
    chosen = special + featured + rng.sample(others, k=min(WITH_ROWS[ctx.scale], len(others)))
    low, high = ROWS[ctx.scale]
    for number, entry in enumerate(chosen, start=1):
        dataset = session.get_one(Dataset, ids[f"{entry['department']}/{entry['name']}"])
        if entry["profile"] in ("population", "entities"):
            table = _registry_table(session, entry["profile"], entry["fields"])
        else:
            columns = _rows(rng, entry["profile"], rng.randint(low, high), list(persons), list(entities))
            table = pa.table(columns, schema=arrow_schema(entry["fields"]))
        append_table(session, dataset=dataset, table=table, actor=ACTOR, source="demo", now=AT)  # fixed: rebuilds match
        ctx.progress("catalogue rows", number, len(chosen))


DEMO_STEPS = [
    DemoStep("catalog", load_catalog, depends_on=("legal_entities",),
             description="data catalogue: 500+ datasets of the 60 departments, rows for the registries and a subset"),
]
