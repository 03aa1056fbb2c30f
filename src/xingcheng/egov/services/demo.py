"""Demo step: load the city's 383 catalogue items, their materials, process links and 实施清单 entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.identity.models import Department, Division
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.egov.services.catalogue import (
    CITY_OFFICE,
    DISTRICT_BRANCHES,
    HOTLINE,
    HOURS,
    CatalogueRow,
    derived_conditions,
    material_is_original,
    material_source,
    process_key,
    read_catalogue,
)
from xingcheng.egov.services.models import ProcessLink, ServiceImplementation, ServiceItem, ServiceMaterial
from xingcheng.egov.services.service import ITEM_FACTS

# Fixed timestamps: two builds from one seed are byte-identical.
RECORDED_AT = datetime(2026, 11, 1, tzinfo=UTC)


def item_row(row: CatalogueRow) -> dict[str, Any]:
    return {
        "code": row.code, "name": row.name, "department_code": row.department_code, "item_type": row.item_type,
        "for_person": "个人" in row.audience, "for_enterprise": "法人" in row.audience, "life_event": row.life_event,
        "online": row.online, "max_visits": row.max_visits, "statutory_days": row.statutory_days,
        "promised_days": row.promised_days, "fee_free": True, "fee_note": "", "conditions": derived_conditions(row),
        "legal_basis": "", "created_at": RECORDED_AT, "updated_at": RECORDED_AT,
    }


def implementation_rows(
    catalogue: list[CatalogueRow], short_names: dict[str, str], districts: list[tuple[str, str]], city_code: str
) -> list[dict[str, Any]]:
    """Each item at its department's window in the city centre, and in every district centre where
    the department keeps a district branch. Addresses stay generic rather than invented."""
    rows: list[dict[str, Any]] = []
    for item in catalogue:
        rows.append({
            "item_code": item.code, "division_code": city_code, "level": "city", "office_name": CITY_OFFICE,
            "service_window": f"{short_names.get(item.department_code, item.department_code)}窗口",
            "address": f"{CITY_OFFICE}（地址以市政务服务中心公告为准）", "phone": HOTLINE, "hours": HOURS,
        })
        branch = DISTRICT_BRANCHES.get(item.department_code)
        if branch is None:
            continue
        for division_code, division_name in districts:
            office = f"{division_name}政务服务中心"
            rows.append({
                "item_code": item.code, "division_code": division_code, "level": "district", "office_name": office,
                "service_window": f"{branch}窗口", "address": f"{office}（地址以{division_name}政务服务中心公告为准）",
                "phone": HOTLINE, "hours": HOURS,
            })
    return rows


def load_service_items(session: Session, ctx: DemoContext) -> None:
    catalogue = read_catalogue()
    ITEM_FACTS.changed(session)  # Core inserts: the ORM does not see them
    session.execute(insert(cast(Table, ServiceItem.__table__)), [item_row(row) for row in catalogue])
    ids = dict(session.execute(select(ServiceItem.code, ServiceItem.id)).all())
    materials = [
        {"item_id": ids[row.code], "position": position, "name": name, "required": True,
         "original": material_is_original(name, material_source(name)), "source": material_source(name)}
        for row in catalogue for position, name in enumerate(row.materials)
    ]
    session.execute(insert(cast(Table, ServiceMaterial.__table__)), materials)
    links = [{"item_id": ids[row.code], "process_key": process_key(row)} for row in catalogue]
    session.execute(insert(cast(Table, ProcessLink.__table__)), links)
    short_names = dict(session.execute(select(Department.code, Department.short_name)).all())
    city_code = session.scalar(select(Division.code).where(Division.level == "city")) or "430100"
    counties = select(Division.code, Division.name).where(Division.level == "county").order_by(Division.code)
    districts = [(code, name) for code, name in session.execute(counties)]
    entries = implementation_rows(catalogue, short_names, districts, city_code)
    session.execute(insert(cast(Table, ServiceImplementation.__table__)), entries)
    ctx.facts["service_items"] = len(catalogue)
    ctx.facts["service_implementations"] = len(entries)
    ctx.progress("service items", len(catalogue), len(catalogue))


DEMO_STEPS = [
    DemoStep("service_items", load_service_items, depends_on=("departments",),
             description="383 catalogue items, materials, process links and 实施清单 entries"),
]
