"""Public open-data portal pages (no login): search with facets, a page per dataset with preview, chart, downloads."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import NotFound, XingchengError
from xingcheng.datahub.opendata import actions
from xingcheng.datahub.opendata.constants import THEMES
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY

PAGE_SIZE = 20
PREVIEW_ROWS = 20
CHART_ROWS = 500
FACETS = {"groups": "开放主题", "organization": "开放部门", "tags": "标签", "res_format": "格式"}
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,31}/[a-z0-9_-]{2,100}$")

OPEN_CSS = """
.xc-open-hero { background: linear-gradient(135deg, #0b3d2e 0%, #13795b 60%, #2bb37d 100%); color: #fff;
                padding: 28px 48px; width: 100%; }
.xc-open-body { max-width: 1240px; width: 100%; margin: 0 auto; padding: 24px; }
.xc-open-facet { min-width: 230px; max-width: 260px; padding: 12px 14px; }
.xc-open-result { width: 100%; padding: 12px 16px; }
.xc-open-title { font-size: 1.05rem; font-weight: 600; }
.xc-open-section { font-size: 1.1rem; font-weight: 600; color: #13795b; margin-top: 12px; }
"""


def search_url(**params: Any) -> str:
    query = {k: v for k, v in params.items() if v not in (None, "", 0)}
    return "/open" + (f"?{urlencode(query)}" if query else "")


def _shell(title: str) -> None:
    ui.colors(primary=PRIMARY)
    ui.add_css(CONSOLE_CSS + OPEN_CSS)
    ui.query(".nicegui-content").classes("p-0 gap-0")
    with ui.column().classes("xc-open-hero gap-1"):
        with ui.row().classes("items-center gap-3"):
            ui.link("星城", "/").classes("text-white text-h6 no-underline")
            ui.label("·").classes("text-white")
            ui.link("公共数据开放", "/open").classes("text-white text-h6 no-underline")
        ui.label(title).classes("text-h5 font-bold")


def _fq(organization: str, groups: str, tags: str, res_format: str) -> str:
    terms = [f'{name}:"{value}"' for name, value in (("organization", organization), ("groups", groups),
                                                     ("tags", tags), ("res_format", res_format)) if value]
    return " ".join(terms)


def search_page(q: str = "", organization: str = "", groups: str = "", tags: str = "", res_format: str = "",
                sort: str = "", offset: int = 0) -> None:
    q, offset = q.strip()[:100], max(0, min(offset, 100_000))
    selected = {"organization": organization[:32], "groups": groups[:32], "tags": tags[:32].replace('"', ""),
                "res_format": res_format[:16]}
    order = {"": "score desc, metadata_modified desc", "name": "name asc", "new": "metadata_modified desc"}
    params = {"q": q, "fq": _fq(**selected), "rows": PAGE_SIZE, "start": offset, "sort": order.get(sort, order[""]),
              "facet.field": list(FACETS), "facet.limit": 12}
    try:
        with get_database().session_scope() as session:
            found = actions.package_search(session, params, "")
    except (XingchengError, ValueError):
        found = {"count": 0, "results": [], "search_facets": {}}
    _shell("开放数据目录")
    base = {"q": q, **selected, "sort": sort}
    with ui.column().classes("xc-open-body gap-4"):
        with ui.row().classes("w-full items-end gap-3"):
            box = ui.input("搜索数据集（如：公共厕所、空气质量）", value=q).props("outlined dense clearable").classes(
                "w-96 xc-open-search")
            chooser = ui.select({"": "相关度", "new": "最近更新", "name": "名称"}, value=sort if sort in order else "",
                                label="排序").props("outlined dense").classes("w-32")

            def apply() -> None:
                ui.navigate.to(search_url(**{**base, "q": (box.value or "").strip()[:100], "sort": chooser.value}))

            box.on("keydown.enter", apply)
            ui.button("搜索", icon="search", on_click=apply).props("unelevated")
        with ui.row().classes("w-full gap-4 no-wrap items-start"):
            with ui.column().classes("gap-3"):
                for name, title in FACETS.items():
                    facet = found["search_facets"].get(name, {"items": []})
                    with ui.card().classes("xc-open-facet gap-1"):
                        ui.label(title).classes("font-bold text-grey-8")
                        for item in facet["items"]:
                            active = selected[name] == item["name"]
                            target = {**base, name: "" if active else item["name"], "offset": 0}
                            label = f"{'✓ ' if active else ''}{item['display_name']}（{item['count']}）"
                            ui.link(label, search_url(**target)).classes("text-sm xc-open-facet-item")
            with ui.column().classes("gap-2 grow"):
                ui.label(f"共找到 {found['count']} 个开放数据集").classes("text-grey-8 xc-open-total")
                if not found["results"]:
                    ui.label("没有找到符合条件的数据集，请换个关键词试试。").classes("text-grey-7")
                for package in found["results"]:
                    _result(package)
                with ui.row().classes("gap-4 items-center"):
                    if offset > 0:
                        ui.link("上一页", search_url(**base, offset=max(0, offset - PAGE_SIZE)))
                    if found["count"]:
                        pages = (found["count"] - 1) // PAGE_SIZE + 1
                        ui.label(f"第 {offset // PAGE_SIZE + 1} / {pages} 页").classes("text-grey-7")
                    if offset + PAGE_SIZE < found["count"]:
                        ui.link("下一页", search_url(**base, offset=offset + PAGE_SIZE))
        with ui.row().classes("gap-4 text-sm"):
            ui.link("CKAN 接口 /api/3/action", "/api/3/action/status_show")
            ui.link("DCAT-AP 目录（JSON-LD）", "/api/v1/opendata/dcat/catalog.jsonld")


def _result(package: dict[str, Any]) -> None:
    extras = {e["key"]: e["value"] for e in package["extras"]}
    with ui.card().classes("xc-open-result gap-1"):
        ui.link(package["title"], f"/open/dataset/{package['name']}").classes("xc-open-title xc-open-result-link")
        ui.label(package["notes"][:120]).classes("text-sm text-grey-8")
        with ui.row().classes("gap-1 items-center"):
            ui.badge(package["organization"]["title"], color="primary")
            for group in package["groups"]:
                ui.badge(group["title"], color="teal")
            for resource in package["resources"]:
                ui.badge(resource["format"], color="grey-7")
            ui.label(f"{int(extras.get('row_count', '0')):,} 条 · 更新频率：{extras.get('update_frequency', '')}").classes(
                "text-xs text-grey-7")


def _chart_options(fields: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A line over time when there is a date and a number, else counts of the first categorical column."""
    dates = [f["id"] for f in fields if f["type"] in ("date", "timestamp")]
    numbers = [f for f in fields if f["type"] in ("int8", "float8") and f["id"] not in ("_id", "lng", "lat")]
    if dates and numbers and records:
        series: dict[str, float] = {}
        for row in records:
            key = str(row[dates[0]])[:10]
            value = row[numbers[0]["id"]]
            if value is not None:
                series[key] = series.get(key, 0.0) + float(value)
        keys = sorted(series)
        return {"title": {"text": f"{numbers[0]['info']['label']}（预览数据按日期汇总）", "textStyle": {"fontSize": 14}},
                "tooltip": {"trigger": "axis"}, "xAxis": {"type": "category", "data": keys},
                "yAxis": {"type": "value"}, "series": [{"type": "line", "data": [round(series[k], 2) for k in keys]}]}
    text = [f for f in fields if f["type"] == "text"]
    preferred = [f for f in text if f["id"] == "division_code"] or text[1:2] or text[:1]
    if not preferred or not records:
        return None
    column = preferred[0]
    counts: dict[str, int] = {}
    for row in records:
        counts[str(row[column["id"]])] = counts.get(str(row[column["id"]]), 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    return {"title": {"text": f"按{column['info']['label']}统计（预览数据）", "textStyle": {"fontSize": 14}},
            "tooltip": {}, "xAxis": {"type": "category", "data": [k for k, _ in top], "axisLabel": {"rotate": 30}},
            "yAxis": {"type": "value"}, "series": [{"type": "bar", "data": [v for _, v in top]}]}


def dataset_page(owner: str, name: str) -> None:
    slug = f"{owner}/{name}"
    try:
        if not SLUG.fullmatch(slug):
            raise NotFound(slug)
        with get_database().session_scope() as session:
            package = actions.package_show(session, {"id": slug}, "")
            csv = next(r for r in package["resources"] if r["format"] == "CSV")
            preview = actions.datastore_search(session, {"resource_id": csv["id"], "limit": CHART_ROWS}, "")
    except NotFound:
        ui.context.client.status_code = 404
        _shell("未找到该数据集")
        with ui.column().classes("xc-open-body gap-2"):
            ui.label(f"数据集 {slug[:140]} 不存在或未开放。").classes("text-grey-8")
            ui.link("返回开放数据目录", "/open")
        return
    extras = {e["key"]: e["value"] for e in package["extras"]}
    _shell(package["title"])
    with ui.column().classes("xc-open-body gap-2 xc-open-dataset"):
        ui.label(package["notes"]).classes("text-grey-9")
        facts = [("提供部门", package["organization"]["title"]), ("开放主题", THEMES.get(package["groups"][0]["name"], "")),
                 ("数据分类", extras.get("category", "")), ("更新频率", extras.get("update_frequency", "")),
                 ("数据量", f"{int(extras.get('row_count', '0')):,} 条"), ("时间范围", extras.get("temporal_coverage", "")),
                 ("开放许可", package["license_title"]), ("标签", "、".join(t["name"] for t in package["tags"])),
                 ("发布时间", (package["metadata_created"] or "")[:10]), ("数据集标识", package["name"])]
        ui.table(columns=[{"name": "k", "label": "项目", "field": "k", "align": "left"},
                          {"name": "v", "label": "内容", "field": "v", "align": "left"}],
                 rows=[{"k": k, "v": v} for k, v in facts], pagination=0).props(
            "flat bordered dense hide-bottom").classes("w-full xc-open-facts")
        ui.label("下载").classes("xc-open-section")
        with ui.row().classes("gap-3"):
            for resource in package["resources"]:
                ui.link(f"⬇ 下载 {resource['format']}", resource["url"]).classes(
                    "xc-open-download q-btn q-btn--outline q-px-md q-py-sm rounded-borders no-underline")
        ui.label(f"数据预览（前 {min(PREVIEW_ROWS, len(preview['records']))} 条，共 {preview.get('total', 0):,} 条）").classes(
            "xc-open-section")
        shown = [f for f in preview["fields"] if f["id"] != "_id"]
        ui.table(columns=[{"name": f["id"], "label": f["info"]["label"], "field": f["id"], "align": "left"} for f in shown],
                 rows=[{k: ("" if v is None else v) for k, v in r.items()} for r in preview["records"][:PREVIEW_ROWS]],
                 row_key="_id", pagination=0).props("flat bordered dense hide-bottom wrap-cells").classes(
            "w-full xc-open-preview")
        options = _chart_options(preview["fields"], preview["records"])
        if options:
            ui.label("图表").classes("xc-open-section")
            ui.echart(options).classes("w-full h-80 xc-open-chart")
        ui.label("数据接口").classes("xc-open-section")
        with ui.column().classes("gap-1 text-sm"):
            ui.link("CKAN package_show", f"/api/3/action/package_show?id={package['id']}")
            ui.link("CKAN datastore_search", f"/api/3/action/datastore_search?resource_id={csv['id']}&limit=5")
            ui.link("DCAT-AP 元数据（JSON-LD）", f"/api/v1/opendata/dcat/datasets/{slug}.jsonld")
        ui.link("返回开放数据目录", "/open")


def register() -> None:
    """Public pages (no login): open data is for everyone."""
    ui.page("/open", title="公共数据开放 · 星城")(search_page)
    ui.page("/open/dataset/{owner}/{name}", title="开放数据集 · 星城")(dataset_page)
