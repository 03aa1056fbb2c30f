"""Console pages of the base registries: the population (人口库) and legal-entity (法人库) tables, masked, paged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.identity import service as identity
from xingcheng.core.masking import mask
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries import service as registries
from xingcheng.datahub.registries.models import LegalEntity, Person
from xingcheng.web import auth
from xingcheng.web.labels import ENTITY_STATUS_LABELS, ENTITY_TYPE_LABELS, GENDER_LABELS, format_number, label
from xingcheng.web.layout import console_page

PAGE_SIZE = 20


def county_names() -> dict[str, str]:
    with get_database().session_scope() as session:
        return {d.code: d.name for d in identity.list_divisions(session) if d.level == "county"}


def person_row(person: Person, districts: dict[str, str]) -> dict[str, Any]:
    # Staff list views show personal fields masked, as the registry API does, until grants decide per field.
    return {
        "id_number": mask("id_number", person.id_number),
        "name": mask("name", person.name),
        "gender": label(GENDER_LABELS, person.gender),
        "ethnicity": person.ethnicity,
        "district": districts.get(person.division_code, person.division_code),
        "residence_address": mask("address", person.residence_address),
        "phone": mask("phone", person.phone) or "—",
    }


def entity_row(entity: LegalEntity, districts: dict[str, str]) -> dict[str, Any]:
    return {
        "credit_code": entity.credit_code,
        "name": entity.name,
        "entity_type": label(ENTITY_TYPE_LABELS, entity.entity_type),
        "industry": f"{entity.industry_code} {entity.industry_name}",
        "capital": format_number(round(entity.registered_capital_yuan / 10_000, 2)),
        "established": entity.established_date.isoformat(),
        "status": label(ENTITY_STATUS_LABELS, entity.status),
        "district": districts.get(entity.division_code, entity.division_code),
        "representative": entity.legal_representative_name,
    }


def _columns(spec: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"name": key, "label": title, "field": key, "align": "left"} for key, title in spec]


PERSON_COLUMNS = _columns([
    ("id_number", "公民身份号码"), ("name", "姓名"), ("gender", "性别"), ("ethnicity", "民族"),
    ("district", "户籍区县"), ("residence_address", "居住地址"), ("phone", "联系电话"),
])
ENTITY_COLUMNS = _columns([
    ("credit_code", "统一社会信用代码"), ("name", "名称"), ("entity_type", "主体类型"), ("industry", "行业"),
    ("capital", "注册资本（万元）"), ("established", "成立日期"), ("status", "登记状态"), ("district", "所属区县"),
    ("representative", "法定代表人"),
])


class PagedTable:
    """A table that asks the database for one page at a time; ``fetch(offset)`` returns rows and the total."""

    def __init__(
        self, columns: list[dict[str, Any]], row_key: str,
        fetch: Callable[[int], tuple[list[dict[str, Any]], int]], *, css: str,
    ) -> None:
        self.fetch = fetch
        self.page = 1
        self.total_label = ui.label("").classes("text-grey-7 xc-total")
        self.table = ui.table(columns=columns, rows=[], row_key=row_key).classes(f"w-full {css}").props(
            "flat bordered hide-bottom no-data-label=暂无数据"
        )
        self.pager = ui.pagination(1, 1, direction_links=True, on_change=lambda e: self.go(int(e.value)))
        # A city-scale register has thousands of pages: show a window of them, with the first and last.
        self.pager.props("max-pages=9 boundary-numbers")

    async def go(self, page: int) -> None:
        self.page = page
        rows, total = await asyncio.to_thread(self.fetch, (page - 1) * PAGE_SIZE)
        self.table.rows = rows
        self.total_label.text = f"共 {format_number(total)} 条记录，每页 {PAGE_SIZE} 条"
        self.pager.max = max(1, -(-total // PAGE_SIZE))

    async def reload(self) -> None:
        if self.pager.value == 1:
            await self.go(1)
        else:
            self.pager.set_value(1)  # its on_change loads page 1


def register(modules: Sequence[Module]) -> None:
    @console_page("/console/datahub/persons", title="人口库", modules=modules)
    async def persons(user: auth.WebUser) -> None:
        districts = await asyncio.to_thread(county_names)
        state: dict[str, str] = {"district": ""}

        def fetch(offset: int) -> tuple[list[dict[str, Any]], int]:
            with get_database().session_scope() as session:
                items, total = registries.list_persons(
                    session, reader=user.principal, page=PageParams(limit=PAGE_SIZE, offset=offset),
                    division_code=state["district"] or None,
                )
                return [person_row(p, districts) for p in items], total

        async def choose(code: str | None) -> None:
            state["district"] = code or ""
            await view.reload()

        ui.label("个人信息已按规定脱敏展示（身份证号、姓名、电话、地址）。").classes("text-grey-7 text-sm")
        ui.select({"": "全部区县", **districts}, value="", label="户籍区县", on_change=lambda e: choose(e.value)).classes(
            "w-56 xc-district-filter"
        )
        view = PagedTable(PERSON_COLUMNS, "id_number", fetch, css="xc-persons-table")
        await view.go(1)

    @console_page("/console/datahub/legal-entities", title="法人库", modules=modules)
    async def legal_entities(user: auth.WebUser) -> None:
        districts = await asyncio.to_thread(county_names)
        state: dict[str, str] = {"district": "", "q": ""}

        def fetch(offset: int) -> tuple[list[dict[str, Any]], int]:
            with get_database().session_scope() as session:
                items, total = registries.list_legal_entities(
                    session, page=PageParams(limit=PAGE_SIZE, offset=offset),
                    division_code=state["district"] or None, q=state["q"] or None,
                )
                return [entity_row(e, districts) for e in items], total

        async def search() -> None:
            state.update(district=district.value or "", q=(keyword.value or "").strip())
            await view.reload()

        with ui.row().classes("items-center gap-3"):
            district = ui.select({"": "全部区县", **districts}, value="", label="所属区县").classes("w-56 xc-district-filter")
            keyword = ui.input("名称关键字或统一社会信用代码").props("clearable").classes("w-80 xc-keyword")
            keyword.on("keydown.enter", search)
            ui.button("查询", icon="search", on_click=search).classes("xc-search")
        view = PagedTable(ENTITY_COLUMNS, "credit_code", fetch, css="xc-entities-table")
        await view.go(1)
