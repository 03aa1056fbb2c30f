"""Console page of the sharing exchange: inbox for owners, my requests, grants and pulls, delivery log with proofs, flows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from nicegui import ui

from xingcheng.core.db import get_database, utcnow
from xingcheng.core.errors import XingchengError
from xingcheng.core.registry import Module
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.schemas import CHANNEL_LABELS, STATUS_LABELS, RequestApprove, RequestCreate
from xingcheng.datahub.exchange.stats import exchange_stats
from xingcheng.web import auth
from xingcheng.web.catalog import department_names
from xingcheng.web.labels import format_number, format_time
from xingcheng.web.layout import console_page

PATH = "/console/datahub/exchange"
GRANT_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销", "pending": "未生效"}
TREATMENT_LABELS = {"clear": "明文", "masked:partial": "脱敏", "masked:full": "全部遮蔽", "withheld": "不提供"}
T = TypeVar("T")


def _columns(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "label": t, "field": k, "align": "left"} for k, t in pairs]


REQUEST_COLUMNS = _columns(("id", "编号"), ("dataset", "数据资源"), ("owner", "提供部门"), ("requester", "申请部门"),
                           ("fields", "申请字段"), ("purpose", "用途"), ("status", "状态"), ("grant", "授权"),
                           ("created", "申请时间"))
DELIVERY_COLUMNS = _columns(("id", "编号"), ("dataset", "数据资源"), ("flow", "提供 → 使用"), ("channel", "方式"),
                            ("records", "记录数"), ("hash", "内容哈希（SHA-256）"), ("time", "交付时间"))


def _run(action: Callable[[Any], T]) -> T:
    """Run ``action(session)`` in one transaction (refusals are audited: the scope commits them)."""
    with get_database().session_scope() as session:
        return action(session)


def register(modules: Sequence[Module]) -> None:
    @console_page(PATH, title="共享交换", modules=modules)
    async def exchange(user: auth.WebUser) -> None:
        names = await asyncio.to_thread(department_names)
        principal = user.principal

        def dept(code: str | None) -> str:
            return names.get(code or "", code or "—")

        def request_rows(box: str) -> list[dict[str, Any]]:
            def load(session: Any) -> list[dict[str, Any]]:
                items, _ = service.list_requests(session, viewer=principal, page=PageParams(limit=200), box=box)
                return [{"id": r.id, "dataset": r.dataset_slug, "owner": dept(r.owner_department_code),
                         "requester": dept(r.requester_department_code), "fields": "、".join(r.fields or ["全部字段"]),
                         "purpose": r.purpose, "legal_basis": r.legal_basis, "status": STATUS_LABELS.get(r.status, r.status),
                         "state": r.status, "grant_state": (grant := service.grant_status(session, r) or ""),
                         "grant": GRANT_LABELS.get(grant, "—"), "created": format_time(r.created_at)} for r in items]
            return _run(load)

        async def act(label: str, action: Callable[[Any], Any]) -> None:
            try:
                await asyncio.to_thread(_run, action)
                ui.notify(f"{label}成功", type="positive")
            except XingchengError as exc:
                ui.notify(f"{label}失败：{exc.detail}", type="negative", multi_line=True)
            await refresh()

        def decide_dialog(row: dict[str, Any], verb: str) -> None:
            with ui.dialog() as dialog, ui.card().classes("w-96"):
                ui.label(f"{verb}申请 #{row['id']}：{row['dataset']}").classes("text-subtitle1")
                ui.label(f"用途：{row['purpose']}；依据：{row['legal_basis']}").classes("text-grey-8")
                reason = ui.textarea("理由", value="依据充分，同意按最小必要原则共享" if verb == "批准" else "").classes(
                    "w-full xc-exchange-reason")

                async def confirm() -> None:
                    text = (reason.value or "").strip() or "—"
                    dialog.close()
                    if verb == "批准":
                        await act(verb, lambda s: service.approve(s, request_id=row["id"], approver=principal,
                                                                  data=RequestApprove(reason=text)))
                    elif verb == "驳回":
                        await act(verb, lambda s: service.reject(s, request_id=row["id"], approver=principal, reason=text))
                    else:
                        await act(verb, lambda s: service.revoke(s, request_id=row["id"], revoker=principal, reason=text))

                with ui.row():
                    ui.button(verb, on_click=confirm).classes("xc-exchange-confirm")
                    ui.button("取消", on_click=dialog.close).props("flat")
            dialog.open()

        async def pull(row: dict[str, Any]) -> None:
            def load(session: Any) -> flows.Pulled:
                return flows.pull(session, request_id=row["id"], consumer=principal, cursor="", limit=20)
            try:
                pulled = await asyncio.to_thread(_run, load)
            except XingchengError as exc:
                ui.notify(f"拉取被拒绝：{exc.detail}", type="negative", multi_line=True)
                return
            preview.clear()
            with preview:
                ui.label(f"申请 #{pulled.request_id} 的前 {pulled.records} 条（按授权脱敏），内容哈希 {pulled.content_hash}"
                         ).classes("text-caption xc-exchange-hash")
                shown = [n for n, t in pulled.fields.items() if t != "withheld"]
                ui.table(columns=[{"name": n, "label": f"{n}（{TREATMENT_LABELS.get(pulled.fields[n], '')}）", "field": n,
                                   "align": "left"} for n in shown],
                         rows=[{**r, "_i": i} for i, r in enumerate(pulled.items)], row_key="_i").classes(
                    "w-full xc-exchange-preview").props("flat bordered dense hide-bottom")
            await refresh()  # the pull is a delivery: the log and the totals show it at once

        def request_table(box: str) -> ui.table:
            table = ui.table(columns=[*REQUEST_COLUMNS, {"name": "actions", "label": "操作", "field": "id"}], rows=[],
                             row_key="id").classes(f"w-full xc-exchange-{box}").props("flat bordered dense")
            table.add_slot("body-cell-actions", """
                <q-td :props="props">
                  <q-btn v-if="props.row.state == 'pending' && props.row.box == 'inbox'" dense flat color="positive"
                         label="批准" @click="$parent.$emit('approve', props.row)" />
                  <q-btn v-if="props.row.state == 'pending' && props.row.box == 'inbox'" dense flat color="negative"
                         label="驳回" @click="$parent.$emit('reject', props.row)" />
                  <q-btn v-if="props.row.state == 'approved' && props.row.box == 'inbox'
                               && ['active', 'pending'].includes(props.row.grant_state)" dense flat color="warning"
                         label="撤销授权" @click="$parent.$emit('revoke', props.row)" />
                  <q-btn v-if="props.row.grant_state == 'active' && props.row.box == 'mine'" dense flat color="primary"
                         label="拉取数据" @click="$parent.$emit('pull', props.row)" />
                  <q-btn v-if="props.row.grant_state == 'active' && props.row.box == 'mine'" dense flat
                         label="订阅推送" @click="$parent.$emit('subscribe', props.row)" />
                </q-td>""")
            table.on("approve", lambda e: decide_dialog(e.args, "批准"))
            table.on("reject", lambda e: decide_dialog(e.args, "驳回"))
            table.on("revoke", lambda e: decide_dialog(e.args, "撤销授权"))
            table.on("pull", lambda e: pull(e.args))
            table.on("subscribe", lambda e: act("订阅", lambda s: flows.subscribe(
                s, request_id=e.args["id"], consumer=principal, channel="event")))
            return table

        async def submit() -> None:
            fields = [f.strip() for f in (new_fields.value or "").replace("，", ",").split(",") if f.strip()] or None
            try:
                data = RequestCreate(dataset=(new_dataset.value or "").strip(), fields=fields,
                                     purpose=(new_purpose.value or "").strip(), legal_basis=(new_basis.value or "").strip(),
                                     requested_until=utcnow() + timedelta(days=int(new_days.value or 90)))
            except ValueError as exc:
                ui.notify(f"申请内容有误：{exc}", type="negative", multi_line=True)
                return
            await act("提交申请", lambda s: service.create_request(s, data=data, requester=principal))

        async def refresh() -> None:
            inbox_rows = await asyncio.to_thread(request_rows, "inbox") if principal.department_code else []
            mine_rows = await asyncio.to_thread(request_rows, "mine") if principal.department_code else []
            inbox.rows = [{**r, "box": "inbox"} for r in inbox_rows]
            mine.rows = [{**r, "box": "mine"} for r in mine_rows]

            def load(session: Any) -> tuple[list[Any], dict[str, Any]]:
                items, _ = service.list_deliveries(session, viewer=principal, page=PageParams(limit=100))
                return [{"id": d.id, "dataset": d.dataset_slug, "flow": f"{dept(d.owner_department_code)} → "
                         f"{dept(d.consumer_department_code)}", "channel": CHANNEL_LABELS.get(d.channel, d.channel),
                         "records": format_number(d.records), "hash": d.content_hash, "time": format_time(d.delivered_at)}
                        for d in items], exchange_stats(session, days=30)
            deliveries, stats = await asyncio.to_thread(_run, load)
            log.rows = deliveries
            total.text = (f"累计共享交换 {format_number(stats['total_records'])} 条 · "
                          f"{format_number(stats['total_deliveries'])} 次交付")
            # Providers on the left, users on the right: a department on both sides stays two nodes (a DAG).
            flows_ = [f for f in stats["flows"] if f["source"] != f["target"]]
            flow_chart.options["series"][0]["data"] = [
                *({"name": f"{dept(s)}（提供）"} for s in sorted({f["source"] for f in flows_})),
                *({"name": f"{dept(t)}（使用）"} for t in sorted({f["target"] for f in flows_}))]
            flow_chart.options["series"][0]["links"] = [
                {"source": f"{dept(f['source'])}（提供）", "target": f"{dept(f['target'])}（使用）", "value": f["records"]}
                for f in flows_]
            flow_chart.update()
            day_chart.options["xAxis"]["data"] = [str(d["day"]) for d in stats["by_day"]]
            day_chart.options["series"][0]["data"] = [d["records"] for d in stats["by_day"]]
            day_chart.update()

        async def verify() -> None:
            digest = (hash_input.value or "").strip().lower()
            try:
                proof = await asyncio.to_thread(_run, lambda s: service.verify(s, content_hash=digest))
                entry = proof["audit_entry_id"]
                ui.notify(f"核验通过：交付 #{proof['delivery'].id}，{proof['delivery'].records} 条，审计记录 #{entry}"
                          f"（日志位置 {proof['leaf_index'] if proof['leaf_index'] is not None else '待上链'}）",
                          type="positive" if proof["valid"] else "warning", multi_line=True)
            except XingchengError as exc:
                ui.notify(f"核验失败：{exc.detail}", type="negative")

        total = ui.label("").classes("text-h6 xc-exchange-total")
        with ui.tabs().classes("w-full") as tabs:
            t_inbox = ui.tab("待我审批")
            t_mine = ui.tab("我的申请")
            t_log = ui.tab("交付记录")
            t_flow = ui.tab("交换统计")
        with ui.tab_panels(tabs, value=t_inbox).classes("w-full"):
            with ui.tab_panel(t_inbox):
                ui.label("其他部门向本部门申请共享的数据资源").classes("text-grey-7")
                inbox = request_table("inbox")
            with ui.tab_panel(t_mine):
                with ui.expansion("新建共享申请", icon="add").classes("w-full"), ui.row().classes("items-end gap-3"):
                    new_dataset = ui.input("数据资源标识", placeholder="gaj/population-register").classes("w-64")
                    new_fields = ui.input("字段（逗号分隔，留空为全部）").classes("w-64")
                    new_purpose = ui.input("用途代码", placeholder="housing-fund-loan-review").classes("w-56")
                    new_basis = ui.input("法律依据").classes("w-72")
                    new_days = ui.number("期限（天）", value=90, min=1, max=1095).classes("w-28")
                    ui.button("提交申请", icon="send", on_click=submit).classes("xc-exchange-submit")
                mine = request_table("mine")
                preview = ui.column().classes("w-full")
            with ui.tab_panel(t_log):
                with ui.row().classes("items-end gap-3"):
                    hash_input = ui.input("内容哈希").classes("w-[36rem] xc-exchange-verify-input")
                    ui.button("核验交付凭证", icon="verified", on_click=verify).classes("xc-exchange-verify")
                log = ui.table(columns=DELIVERY_COLUMNS, rows=[], row_key="id").classes(
                    "w-full xc-exchange-log").props("flat bordered dense")
            with ui.tab_panel(t_flow):
                flow_chart = ui.echart({"tooltip": {}, "series": [{"type": "sankey", "data": [], "links": [],
                                                                   "emphasis": {"focus": "adjacency"}}]}).classes(
                    "w-full h-96 xc-exchange-flows")
                day_chart = ui.echart({"tooltip": {}, "xAxis": {"type": "category", "data": []}, "yAxis": {"type": "value"},
                                       "series": [{"type": "bar", "data": [], "name": "交换记录数"}]}).classes("w-full h-64")
        await refresh()
