"""Console pages of the data catalogue: search with facets, and a dataset's graded schema with masked sample rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.grants.policy import GRADE_LABELS_ZH
from xingcheng.core.identity import service as identity
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.schemas import CATEGORY_LABELS, FREQUENCY_LABELS
from xingcheng.web import auth
from xingcheng.web.labels import format_number, format_time, label
from xingcheng.web.layout import console_page

PAGE_SIZE = 20
PREVIEW_PURPOSE = "catalog-preview"
DETAIL_PATH = "/console/datahub/catalog/dataset"
KIND_LABELS = {"id_number": "身份证号", "name": "姓名", "phone": "电话", "address": "地址", "bank_card": "银行卡号",
               "email": "电子邮箱", "free_text": "自由文本", "credit_code": "信用代码", "free": "—"}
TREATMENT_LABELS = {"clear": "明文", "masked:partial": "脱敏", "masked:full": "全部遮蔽", "withheld": "不提供"}
LIST_COLUMNS = [{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
    ("title", "数据资源名称"), ("department", "提供部门"), ("category", "分类"), ("grade", "分级"),
    ("frequency", "更新频率"), ("rows", "记录数"), ("updated", "最近更新"))]


def _grade(code: str) -> str:
    return f"{code} {GRADE_LABELS_ZH.get(code, '')}"


def department_names() -> dict[str, str]:
    with get_database().session_scope() as session:
        return {d.code: d.name for d in identity.list_departments(session)}


def register(modules: Sequence[Module]) -> None:
    @console_page("/console/datahub/catalog", title="数据资源目录", modules=modules)
    async def catalogue(user: auth.WebUser) -> None:
        names = await asyncio.to_thread(department_names)
        state: dict[str, Any] = {"q": "", "department": None, "category": None, "grade": None, "page": 1}

        def fetch() -> dict[str, Any]:
            with get_database().session_scope() as session:
                return catalog.search_datasets(
                    session, q=state["q"] or None, page=PageParams(limit=PAGE_SIZE, offset=(state["page"] - 1) * PAGE_SIZE),
                    department=state["department"], category=state["category"], grade=state["grade"])

        async def refresh(page: int = 1) -> None:
            state["page"] = page
            result = await asyncio.to_thread(fetch)
            table.rows = [{
                "slug": d["slug"], "title": d["title"],
                "department": names.get(d["owner_department_code"], d["owner_department_code"]),
                "category": label(CATEGORY_LABELS, d["category"]), "grade": _grade(d["grade"]),
                "frequency": label(FREQUENCY_LABELS, d["update_frequency"]), "rows": format_number(d["row_count"]),
                "updated": format_time(d["last_row_update"]),
            } for d in result["items"]]
            total.text = f"共 {format_number(result['total'])} 个数据资源"
            pager.max = max(1, -(-result["total"] // PAGE_SIZE))
            facets.clear()
            with facets:
                for key, title, labels in (("category", "分类", CATEGORY_LABELS), ("grade", "分级", None),
                                           ("department", "部门", names)):
                    with ui.column().classes("gap-0"):
                        ui.label(title).classes("text-bold")
                        for facet in result["facets"][key][:8]:
                            text = _grade(facet["value"]) if labels is None else labels.get(facet["value"], facet["value"])
                            ui.link(f"{text}（{facet['count']}）").classes("cursor-pointer xc-facet").on(
                                "click", lambda _, k=key, v=facet["value"]: choose(k, v))

        async def choose(key: str, value: str | None) -> None:
            state[key] = value
            await refresh()

        async def search() -> None:
            state.update(q=(keyword.value or "").strip(), department=None, category=None, grade=None)
            await refresh()

        with ui.row().classes("items-center gap-3"):
            keyword = ui.input("搜索数据资源（支持中文分词）").props("clearable").classes("w-96 xc-catalog-q")
            keyword.on("keydown.enter", search)
            ui.button("搜索", icon="search", on_click=search).classes("xc-catalog-search")
        with ui.row().classes("w-full no-wrap gap-6 items-start"):
            facets = ui.row().classes("gap-6 xc-catalog-facets")
        total = ui.label("").classes("text-grey-7")
        table = ui.table(columns=LIST_COLUMNS, rows=[], row_key="slug").classes("w-full xc-catalog-table").props(
            "flat bordered hide-bottom no-data-label=暂无数据")
        table.on("rowClick", lambda e: ui.navigate.to(f"{DETAIL_PATH}?slug={e.args[1]['slug']}"))
        pager = ui.pagination(1, 1, direction_links=True, on_change=lambda e: refresh(int(e.value)))
        pager.props("max-pages=9 boundary-numbers")
        await refresh()

    @console_page(DETAIL_PATH, title="数据资源详情", modules=modules, permission="catalog:read")
    async def detail(user: auth.WebUser) -> None:
        # console_page passes no path parameters: the dataset comes as ?slug=<owner>/<name>.
        owner, _, name = ui.context.client.request.query_params.get("slug", "").partition("/")

        def load() -> tuple[dict[str, Any] | None, dict[str, Any] | str]:
            with get_database().session_scope() as session:
                dataset = catalog.get(session, owner=owner, name=name)
                if dataset is None:
                    return None, ""
                view = catalog.dataset_view(session, dataset)
                try:
                    sample: dict[str, Any] | str = catalog.read_rows(
                        session, dataset=dataset, reader=user.principal, purpose=PREVIEW_PURPOSE,
                        page=PageParams(limit=10, offset=0), action="catalog.rows.sample")
                except XingchengError as exc:
                    sample = exc.detail  # the refusal is still audited: session_scope commits it
                return view, sample

        view, sample = await asyncio.to_thread(load)
        if view is None:
            ui.label(f"数据资源 {owner}/{name} 不存在。").classes("text-negative")
            return
        ui.label(view["title"]).classes("text-h6 xc-dataset-title")
        ui.label(view["description"]).classes("text-grey-8")
        with ui.grid(columns=4).classes("gap-x-8 gap-y-1"):
            for key, value in (("标识", view["slug"]), ("分类", label(CATEGORY_LABELS, view["category"])),
                               ("分级", _grade(view["grade"])), ("更新频率", label(FREQUENCY_LABELS, view["update_frequency"])),
                               ("来源系统", view["source_system"] or "—"), ("记录数", format_number(view["row_count"])),
                               ("模式版本", f"v{view['schema_version']}"), ("标签", "、".join(view["tags"]) or "—")):
                ui.label(f"{key}：{value}")
        ui.label("数据项").classes("text-subtitle1 q-mt-md")
        ui.table(columns=[{"name": k, "label": t, "field": k, "align": "left"} for k, t in (
            ("name", "字段"), ("title", "名称"), ("type", "类型"), ("kind", "个人信息类别"), ("grade", "分级"))],
            rows=[{**f, "kind": KIND_LABELS.get(f["kind"], f["kind"]), "grade": _grade(f["grade"])} for f in view["fields"]],
            row_key="name").classes("w-full xc-schema-table").props("flat bordered hide-bottom")
        ui.label("样例数据（按您的授权脱敏）").classes("text-subtitle1 q-mt-md")
        if isinstance(sample, str):
            ui.label(f"无权查看样例数据：{sample}").classes("text-negative xc-sample-denied")
            return
        shown = [n for n, t in sample["fields"].items() if t != "withheld"]
        titles = {f["name"]: f["title"] for f in view["fields"]}
        ui.table(columns=[{"name": n, "label": f"{titles.get(n, n)}（{TREATMENT_LABELS.get(sample['fields'][n], '')}）",
                           "field": n, "align": "left"} for n in shown],
                 rows=[{**r, "_i": i} for i, r in enumerate(sample["items"])], row_key="_i").classes(
            "w-full xc-sample-table").props("flat bordered hide-bottom no-data-label=暂无数据")
