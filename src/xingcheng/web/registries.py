"""Console pages of the base registries (基础库概览, 多源校核工作台, 数据质量) and the public licence check (电子证照核验)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from nicegui import ui

from xingcheng.core.db import get_database
from xingcheng.core.errors import XingchengError
from xingcheng.core.masking import mask
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.quality import service as quality
from xingcheng.datahub.registries import licences, service, sources, spatial
from xingcheng.web import auth
from xingcheng.web.labels import format_number
from xingcheng.web.layout import CONSOLE_CSS, PRIMARY, console_page

STATUS_LABELS = {"valid": "有效", "expired": "已过期", "revoked": "已注销/吊销", "not_yet_valid": "尚未生效",
                 "tampered": "数据被篡改（签名不符）", "not_found": "查无此证"}
REGISTRY_LABELS = {"person": "人口库", "legal_entity": "法人库", "registry:person": "人口库", "registry:legal_entity": "法人库"}
METRIC_LABELS = (("completeness", "完整性"), ("validity", "规范性"), ("uniqueness", "唯一性"), ("consistency", "一致性"),
                 ("timeliness", "时效性"), ("accuracy", "准确率"))


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _columns(spec: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"name": key, "label": title, "field": key, "align": "left"} for key, title in spec]


# ---- data for the pages (run in a worker thread) ----------------------------------------------------------------

def _overview() -> dict[str, Any]:
    with get_database().session_scope() as session:
        return {
            "persons": service.count_persons(session), "entities": service.count_legal_entities(session),
            "licences": licences.counts_by_type(session), "addresses": spatial.count_addresses(session),
            "claims": sources.claim_counts(session),
            "owners": [{"registry": REGISTRY_LABELS[o.registry_name], "field": o.field, "department": o.department_code,
                        "grade": o.grade} for o in sources.list_field_owners(session)],
        }


def _conflicts(offset: int) -> tuple[list[dict[str, Any]], int]:
    with get_database().session_scope() as session:
        items, total = sources.list_claims(session, page=PageParams(limit=20, offset=offset), status="conflict")
        rows = []
        for claim in items:
            rows.append({
                "id": claim.id, "registry": REGISTRY_LABELS[claim.registry_name],
                "record": mask("id_number", claim.record_key) if claim.registry_name == "person" else claim.record_key,
                "field": claim.field, "claimed": str(sources.decode(claim.value)),
                "claimant": f"{claim.department_code} · {claim.source}", "observed": f"{claim.observed_at:%Y-%m-%d}",
                "authority": f"{claim.authority_department_code}: {sources.decode(claim.authority_value)}",
            })
        return rows, total


def _resolve(claim_id: int, decision: str, note: str, user: auth.WebUser) -> str:
    with get_database().session_scope() as session:
        choice: Literal["accept", "reject"] = "accept" if decision == "accept" else "reject"
        claim, correction = sources.resolve_claim(session, claim_id=claim_id, decision=choice, note=note,
                                                  actor=user.principal)
        return f"异议 #{claim.id} 已{'采纳，已向权威部门发送纠错请求 #' + str(correction.id) if correction else '驳回'}"


def _quality() -> dict[str, Any]:
    with get_database().session_scope() as session:
        reports = quality.latest_reports(session)
        histories = {r.subject: [(h.measured_at.strftime("%m-%d %H:%M"), h.metrics["completeness"], h.metrics["accuracy"])
                                 for h in reversed(quality.history(session, r.subject, limit=30))]
                     for r in reports if r.kind == "registry"}
        return {"reports": [{"subject": REGISTRY_LABELS.get(r.subject, r.subject), "records": r.records,
                             "defects": r.defects, "measured": f"{r.measured_at:%Y-%m-%d %H:%M}",
                             **{k: _pct(float(r.metrics[k])) for k, _ in METRIC_LABELS}} for r in reports],
                "histories": histories,
                "rules": {r.subject: r.rules for r in reports if r.kind == "registry"},
                "detection": quality.detection(session)}


def _run_quality(user: auth.WebUser) -> int:
    with get_database().session_scope() as session:
        return len(quality.run(session, actor=user.principal, datasets=False))


def _verify(number: str) -> dict[str, Any]:
    with get_database().session_scope() as session:
        return licences.verify_licence(session, number).model_dump()


# ---- pages -----------------------------------------------------------------------------------------------------------

def register(modules: Sequence[Module]) -> None:
    @console_page("/console/datahub/registries", title="基础库概览", modules=modules)
    async def overview(_user: auth.WebUser) -> None:
        data = await asyncio.to_thread(_overview)
        with ui.row().classes("gap-4 xc-registry-kpis"):
            for title, value in (("人口库记录", data["persons"]), ("法人库记录", data["entities"]),
                                 ("电子证照", sum(data["licences"].values())),
                                 ("标准地址", sum(data["addresses"].values())),
                                 ("待处理数据异议", data["claims"].get("conflict", 0))):
                with ui.card().classes("p-4 min-w-40"):
                    ui.label(title).classes("text-grey-7")
                    ui.label(format_number(value)).classes("text-h5 text-primary")
        ui.label("电子证照库（按证照类型）").classes("text-subtitle1")
        ui.table(columns=_columns([("type", "证照类型"), ("count", "数量")]), row_key="type", rows=[
            {"type": licences.LICENCE_TYPES[t].name if t in licences.LICENCE_TYPES else t, "count": n}
            for t, n in data["licences"].items()]).props("flat bordered dense").classes("w-96")
        ui.label("一数一源：字段权威来源").classes("text-subtitle1")
        ui.table(columns=_columns([("registry", "基础库"), ("field", "字段"), ("department", "权威部门"), ("grade", "分级")]),
                 rows=data["owners"], row_key="field").props("flat bordered dense").classes("w-full xc-owners-table")

    @console_page("/console/datahub/registries/conflicts", title="多源校核工作台", modules=modules)
    async def conflicts(user: auth.WebUser) -> None:
        ui.label("非权威部门申报的数据与权威部门不一致时在此处理：采纳即向权威部门发出纠错请求，驳回即关闭。").classes(
            "text-grey-7 text-sm")
        table = ui.table(columns=_columns([
            ("id", "编号"), ("registry", "基础库"), ("record", "记录"), ("field", "字段"), ("claimed", "申报值"),
            ("claimant", "申报部门与来源"), ("observed", "申报时间"), ("authority", "权威部门与现值")]),
            rows=[], row_key="id", selection="single").props("flat bordered").classes("w-full xc-conflicts-table")
        total_label = ui.label("")
        note = ui.input("处理意见（必填）").classes("w-96 xc-note")

        async def load() -> None:
            rows, total = await asyncio.to_thread(_conflicts, 0)
            table.rows = rows
            total_label.text = f"待处理异议 {format_number(total)} 条（显示前 20 条）"

        async def decide(decision: str) -> None:
            if not table.selected:
                ui.notify("请先选择一条异议", type="warning")
                return
            try:
                message = await asyncio.to_thread(_resolve, int(table.selected[0]["id"]), decision, note.value or "", user)
            except XingchengError as exc:
                ui.notify(exc.detail, type="negative")
                return
            ui.notify(message, type="positive")
            table.selected = []
            await load()

        with ui.row().classes("gap-2"):
            ui.button("采纳（发起纠错）", icon="check", on_click=lambda: decide("accept")).classes("xc-accept")
            ui.button("驳回", icon="close", color="grey", on_click=lambda: decide("reject")).classes("xc-reject")
        await load()

    @console_page("/console/datahub/quality", title="数据质量", modules=modules)
    async def quality_page(user: auth.WebUser) -> None:
        data = await asyncio.to_thread(_quality)
        ui.label("目标：完整性与准确率均高于 98%。每次检测的结果都会保留，用于观察质量趋势。").classes("text-grey-7 text-sm")
        ui.table(columns=_columns([("subject", "对象"), ("records", "记录数"), *METRIC_LABELS, ("defects", "问题数"),
                                   ("measured", "检测时间")]), rows=data["reports"], row_key="subject").props(
            "flat bordered dense").classes("w-full xc-quality-table")
        found = data["detection"]
        if found["labelled"]:
            text = (f"问题发现能力（对照演示数据中注入并标注的问题）：精确率 {found['precision']:.2%}，"
                    f"召回率 {found['recall']:.2%}，标注 {found['labelled']} 个，发现 {found['detected']} 个")
            ui.label(text).classes("xc-detection")
        for subject, points in data["histories"].items():
            ui.echart({
                "title": {"text": f"{REGISTRY_LABELS.get(subject, subject)}质量趋势", "textStyle": {"fontSize": 14}},
                "tooltip": {"trigger": "axis"}, "legend": {"data": ["完整性", "准确率"], "right": 0},
                "xAxis": {"type": "category", "data": [p[0] for p in points]},
                "yAxis": {"type": "value", "min": 0.9, "max": 1.0},
                "series": [{"name": "完整性", "type": "line", "data": [p[1] for p in points]},
                           {"name": "准确率", "type": "line", "data": [p[2] for p in points]}],
            }).classes("w-full h-64")
            rules = data["rules"][subject]
            ui.table(columns=_columns([("rule", "规则"), ("dimension", "维度"), ("description", "说明"), ("checked", "检查数"),
                                       ("failed", "问题数")]),
                     rows=[{"rule": k, **v} for k, v in rules.items()], row_key="rule").props("flat bordered dense").classes(
                "w-full")
        if user.has("quality:run"):
            async def run() -> None:
                count = await asyncio.to_thread(_run_quality, user)
                ui.notify(f"已完成 {count} 项检测", type="positive")
                ui.navigate.reload()

            ui.button("立即检测", icon="play_arrow", on_click=run).classes("xc-run-quality")

    @ui.page("/portal/licences/verify", title="电子证照核验 · 星城")
    async def verify_page() -> None:
        ui.colors(primary=PRIMARY)
        ui.add_css(CONSOLE_CSS)
        with ui.column().classes("w-full max-w-2xl mx-auto p-6 gap-4"):
            ui.label("电子证照核验").classes("text-h5")
            ui.label("输入证照编号，核验证照是否由本市签发、内容是否被篡改以及当前是否有效。仅显示脱敏后的持证人信息。").classes(
                "text-grey-7")
            number = ui.input("证照编号", placeholder="例如 YYZZ-2026-7K3M9QX2DF5").classes("w-full xc-licence-number")
            result = ui.column().classes("w-full")

            async def check() -> None:
                value = (number.value or "").strip()
                result.clear()
                if not value:
                    return
                answer = await asyncio.to_thread(_verify, value)
                with result, ui.card().classes("w-full xc-verify-result"):
                    good = answer["valid"]
                    ui.label("✔ 证照真实有效" if good else "✘ " + STATUS_LABELS.get(answer["status"], answer["status"]))\
                        .classes("text-h6 " + ("text-positive" if good else "text-negative"))
                    if answer["found"]:
                        for title, key in (("证照类型", "type_name"), ("持证人", "holder_name_masked"),
                                           ("证件号码", "holder_id_masked"), ("发证机关", "issuing_department_name"),
                                           ("有效期自", "valid_from"), ("有效期至", "valid_until")):
                            ui.label(f"{title}：{answer.get(key) or '长期'}")
                        ui.label(f"签名：Ed25519 · 密钥 {str(answer['signing_key_id'])[:16]}… · "
                                 f"{'签名验证通过' if answer['genuine'] else '签名验证失败'}").classes("text-grey-7 text-sm")

            number.on("keydown.enter", check)
            ui.button("核验", icon="verified", on_click=check).classes("xc-verify")
