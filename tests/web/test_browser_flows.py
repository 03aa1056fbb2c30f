"""Whole flows in a real browser against `xingcheng serve` on the small demo city, each cross-checked with the
HTTP API of the same server (fixtures in conftest.py):

- issue #7: enterprise start, applicant → five departments in parallel → e-licences;
- issue #5: share request → owner approval → pull with a verifiable delivery → revoke → refused;
- issue #6: the IoT console pages (device map, datastream chart, alert board, quality report) show data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import LogIn, Server

pytestmark = pytest.mark.browser

TIMEOUT_MS = 45_000  # generous: the machine is shared, and a console page asks the database on load
PDF = b"%PDF-1.4\n1 0 obj<< /Type /Catalog >>endobj\ntrailer<< /Root 1 0 R >>\n%%EOF\n"
ENTERPRISE_ITEM = "CS-SCJ-0001"
# The applicant's one form (一表申请), by the labels the portal draws.
ENTERPRISE_FORM = {
    "联系电话": "13874800000", "企业名称": "长沙浏览器验收数智科技有限公司", "住所所在区县": "430104",
    "住所": "长沙市岳麓区麓谷街道岳麓西大道588号芯城科技园5栋", "注册资本（元）": "2000000",
    "行业代码（GB/T 4754）": "I65", "经营范围": "软件开发；信息技术咨询服务", "拟招用员工人数": "6",
    "刻制印章数量": "3", "基本存款账户开户银行": "长沙银行岳麓支行",
}
# The enterprise-start process's five parallel tasks (workflow/processes/enterprise_start.bpmn).
FIVE_DEPARTMENTS = {"scj", "gaj", "swj_tax", "rsj", "gjj"}
# Exchange: the housing fund (a demo clerk login) asks the public security bureau (its demo owner login).
REQUESTER = ("gjj_clerk", "Clerk@2026")
OWNER = ("gaj_staff", "Gaj@2026")
DATASET = "gaj/population-register"
PURPOSE = "housing-fund-loan-browser-check"
OPERATOR = ("operator", "Operator@2026")

NewPage = Callable[[], Any]


@pytest.fixture
def new_page(browser: Any, server: Server) -> Iterator[NewPage]:
    """Fresh browser contexts on demand: each account of a flow logs in in its own (no shared cookies)."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN", base_url=server.url,
                                      timezone_id="Asia/Shanghai")  # chart axes read in the city's time
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def token(server: Server, username: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{server.url}/api/v1/auth/token", data={"username": username, "password": password},
                          timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_get(server: Server, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = httpx.get(f"{server.url}/api/v1{path}", headers=headers, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def screenshot(page: Any, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def echart_option(page: Any, selector: str) -> Any:
    """The option an ECharts instance is drawing, read from the chart itself (not from what the server sent)."""
    return page.evaluate(
        """async (selector) => {
            const {echarts} = await import('nicegui-echart');
            const chart = echarts.getInstanceByDom(document.querySelector(selector));
            return chart ? chart.getOption() : null;
        }""",
        selector,
    )


def painted_share(page: Any, selector: str) -> Any:
    """Wait until the canvases under ``selector`` have painted something; the share of opaque pixels."""
    return page.wait_for_function(
        """(selector) => {
            let opaque = 0, total = 0;
            for (const canvas of document.querySelectorAll(selector + ' canvas')) {
                if (!canvas.width || !canvas.height) continue;
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) opaque++;
                total += canvas.width * canvas.height;
            }
            return total && opaque ? opaque / total : false;
        }""",
        arg=selector, timeout=TIMEOUT_MS,
    ).json_value()


# ---- issue #7: 企业开办一件事 -----------------------------------------------------------------------

def test_enterprise_start_runs_end_to_end_through_portal_and_console(
    new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path
) -> None:
    citizen = token(server, "citizen", "Citizen@2026")
    form = api_get(server, citizen, f"/applications/forms/{ENTERPRISE_ITEM}")
    to_upload = [m["name"] for m in form["materials"] if not m["provision"]]
    assert to_upload, "the enterprise start asks the applicant for some materials"

    # The applicant: guide → 在线申办 → the one form with its uploads → submitted.
    page = new_page()
    log_in(page, "citizen", "Citizen@2026", next_path=f"/portal/services/{ENTERPRISE_ITEM}")
    page.wait_for_url(f"**/portal/services/{ENTERPRISE_ITEM}")
    page.get_by_text("企业开办“一件事一次办”并联审批").wait_for()
    page.locator(".xc-svc-apply").click()
    page.wait_for_url(f"**/portal/apply/{ENTERPRISE_ITEM}")
    summary = page.locator(".xc-apply-summary")
    summary.wait_for()
    assert f"共需材料 {form['materials_required']} 项" in summary.inner_text()
    assert page.locator("input[type=file]").count() == len(to_upload)
    for label, value in ENTERPRISE_FORM.items():
        page.get_by_label(label, exact=True).fill(value)
    for name in to_upload:
        row = page.locator(".nicegui-row", has=page.get_by_text(name, exact=True))
        row.locator("input[type=file]").set_input_files({"name": f"{name}.pdf", "mimeType": "application/pdf",
                                                         "buffer": PDF})
        page.locator(".q-notification", has_text=f"已上传：{name}").wait_for()
    page.locator(".xc-apply-submit").click()
    page.wait_for_url("**/portal/applications/XC*")
    number = page.url.rsplit("/", 1)[1]
    assert page.locator(".xc-app-status").inner_text() in ("状态：已提交", "状态：审批中")

    submitted = api_get(server, citizen, f"/applications/{number}")
    assert submitted["item_code"] == ENTERPRISE_ITEM and submitted["process_key"] == "enterprise-start"
    assert submitted["form"]["enterprise_name"] == ENTERPRISE_FORM["企业名称"]
    uploaded = [m for m in submitted["materials"] if m["provision"] == "upload"]
    assert sorted(m["name"] for m in uploaded) == sorted(to_upload)
    tasks = {t["department_code"]: t["name"] for t in submitted["tasks"]}
    assert set(tasks) == FIVE_DEPARTMENTS  # all five at once: the departments work in parallel

    # Each department's clerk approves its task from the console inbox.
    for department, task_name in tasks.items():
        clerk = new_page()
        log_in(clerk, f"{department}_clerk", "Clerk@2026", next_path="/console/applications")
        clerk.wait_for_url("**/console/applications")
        row = clerk.locator(".xc-inbox tbody tr", has_text=number)
        row.wait_for()
        assert task_name in row.inner_text() and "待办理" in row.inner_text()
        row.get_by_role("button", name="通过", exact=True).click()
        clerk.locator(".q-notification", has_text="已通过").wait_for()
        row.wait_for(state="detached")
        clerk.context.close()

    # The applicant sees the application completed with its e-licences.
    page = new_page()
    log_in(page, "citizen", "Citizen@2026", next_path="/portal/applications")
    page.wait_for_url("**/portal/applications")
    page.locator(".xc-my-applications tbody tr", has_text=number).click()
    page.wait_for_url(f"**/portal/applications/{number}")
    assert page.locator(".xc-app-status").inner_text() == "状态：已办结（准予）"
    shown = [line.split("：") for line in page.locator(".xc-app-licence").all_inner_texts()]
    done = api_get(server, citizen, f"/applications/{number}")
    assert done["status"] == "approved" and len(done["result_licences"]) == 5
    assert [n for _name, n in shown] == done["result_licences"]
    for name, licence_number in shown:
        assert server.query("SELECT type_name FROM registry_licence WHERE number = ?", licence_number) == name
    assert shown[0][0] == "营业执照"
    assert {name for name, _n in shown} >= {"营业执照", "印章刻制备案证明", "新办纳税人涉税事项确认书"}
    assert page.locator(".xc-app-timeline .q-timeline__title", has_text="审批环节").count() == 5
    assert all(t["status"] == "completed" for t in done["tasks"])
    screenshot(page, tmp_path, "enterprise-start")


# ---- issue #5: 共享交换 request → approve → deliver → revoke ------------------------------------------------

def test_share_request_approve_pull_verify_revoke_in_the_console(
    new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path
) -> None:
    requester_api = token(server, *REQUESTER)

    def open_exchange(username: str, password: str) -> Any:
        tab = new_page()
        log_in(tab, username, password, next_path="/console/datahub/exchange")
        tab.wait_for_url("**/console/datahub/exchange")
        tab.locator(".xc-exchange-total").get_by_text("累计共享交换").wait_for()
        return tab

    def mine(tab: Any) -> Any:
        tab.get_by_role("tab", name="我的申请").click()
        row = tab.locator(".xc-exchange-mine tbody tr", has_text=PURPOSE)
        row.wait_for()
        return row

    def api_request() -> Any:
        items = api_get(server, requester_api, "/exchange/requests", box="mine", limit=200)["items"]
        return next(r for r in items if r["purpose"] == PURPOSE)

    # The requesting department asks, with purpose and legal basis.
    page = open_exchange(*REQUESTER)
    page.get_by_role("tab", name="我的申请").click()
    page.get_by_text("新建共享申请").click()
    page.get_by_label("数据资源标识").fill(DATASET)
    page.get_by_label("字段（逗号分隔，留空为全部）").fill("id_number,name,birth_date")
    page.get_by_label("用途代码").fill(PURPOSE)
    page.get_by_label("法律依据").fill("《住房公积金管理条例》第十三条")
    page.locator(".xc-exchange-submit").click()
    page.locator(".q-notification", has_text="提交申请成功").wait_for()
    assert "待审批" in mine(page).inner_text()
    request = api_request()
    assert (request["status"], request["dataset_slug"], request["owner_department_code"]) == ("pending", DATASET, "gaj")
    assert request["legal_basis"] == "《住房公积金管理条例》第十三条"
    page.context.close()

    # The owner approves it in its inbox.
    owner = open_exchange(*OWNER)
    row = owner.locator(".xc-exchange-inbox tbody tr", has_text=PURPOSE)
    row.get_by_role("button", name="批准").click()
    owner.get_by_text(f"用途：{PURPOSE}").wait_for()
    owner.locator(".xc-exchange-confirm").click()
    owner.locator(".q-notification", has_text="批准成功").wait_for()
    row.get_by_role("button", name="撤销授权").wait_for()
    assert "已批准" in row.inner_text() and "有效" in row.inner_text()
    approved = api_request()
    assert (approved["status"], approved["grant_status"]) == ("approved", "active")
    owner.context.close()

    # The requester pulls a page (masked), finds the delivery in the log and verifies its proof.
    page = open_exchange(*REQUESTER)
    mine(page).get_by_role("button", name="拉取数据").click()
    caption = page.locator(".xc-exchange-hash")
    caption.wait_for()
    digest = caption.inner_text().rsplit(" ", 1)[1]
    assert len(digest) == 64
    assert page.locator(".xc-exchange-preview tbody tr").count() > 0
    id_numbers = page.locator(".xc-exchange-preview tbody tr td:first-child").all_inner_texts()
    assert all("*" in shown for shown in id_numbers)  # the L4 identity number is masked for the consumer
    page.get_by_role("tab", name="交付记录").click()
    logged = page.locator(".xc-exchange-log tbody tr", has_text=digest)
    logged.wait_for()
    assert DATASET in logged.inner_text() and "接口拉取" in logged.inner_text()
    page.locator(".xc-exchange-verify-input input").fill(digest)
    page.locator(".xc-exchange-verify").click()
    page.locator(".q-notification", has_text="核验通过").wait_for()
    deliveries = api_get(server, requester_api, "/exchange/deliveries", request_id=request["id"])["items"]
    assert [d["content_hash"] for d in deliveries] == [digest]
    proof = httpx.post(f"{server.url}/api/v1/exchange/verify", json={"content_hash": digest}, headers=requester_api,
                       timeout=30)
    assert proof.status_code == 200 and proof.json()["valid"] is True, proof.text
    screenshot(page, tmp_path, "exchange")
    page.context.close()

    # The owner revokes the grant.
    owner = open_exchange(*OWNER)
    row = owner.locator(".xc-exchange-inbox tbody tr", has_text=PURPOSE)
    row.get_by_role("button", name="撤销授权").click()
    owner.locator(".xc-exchange-reason textarea").fill("核查完毕，收回授权")
    owner.locator(".xc-exchange-confirm").click()
    owner.locator(".q-notification", has_text="撤销授权成功").wait_for()
    row.get_by_text("已撤销").wait_for()
    assert row.get_by_role("button", name="撤销授权").count() == 0
    assert api_request()["grant_status"] == "revoked"
    owner.context.close()

    # The requester can no longer pull: no button in the console, 403 problem+json from the API.
    page = open_exchange(*REQUESTER)
    row = mine(page)
    row.get_by_text("已撤销").wait_for()
    assert row.get_by_role("button", name="拉取数据").count() == 0
    refused = httpx.get(f"{server.url}/api/v1/exchange/requests/{request['id']}/rows", headers=requester_api, timeout=30)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "revoked" in refused.json()["detail"]
    assert len(api_get(server, requester_api, "/exchange/deliveries", request_id=request["id"])["items"]) == 1


# ---- issue #6: 物联感知 console pages ---------------------------------------------------------------------

def test_iot_device_map_paints_every_device(new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path) -> None:
    page = new_page()
    log_in(page, *OPERATOR, next_path="/console/iot/devices")
    page.wait_for_url("**/console/iot/devices")
    counts = {}
    for state in ("alert", "live", "silent", "maintenance"):
        text = page.locator(f"[data-testid=iot-status-{state}]").inner_text()
        counts[state] = int(text.split()[-2].replace(",", ""))
    things = server.query("SELECT count(*) FROM iot_thing WHERE status != 'retired'")
    assert sum(counts.values()) == things > 0
    assert counts["live"] > 0
    share = painted_share(page, "[data-testid=iot-device-map]")
    assert share > 0.05  # nine districts and the markers, not an empty panel
    option = echart_option(page, "[data-testid=iot-device-map] .nicegui-echart")
    drawn = {s["name"]: sum(int(d["value"][2]) for d in s["data"]) for s in option["series"]}
    assert drawn == {"预警中": counts["alert"], "在线": counts["live"], "未上报": counts["silent"],
                     "维护中": counts["maintenance"]}
    assert option["geo"][0]["map"] == "changsha"
    page.wait_for_timeout(800)  # the entry animation
    screenshot(page, tmp_path, "iot-devices")


def test_iot_datastream_chart_shows_readings(new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path) -> None:
    page = new_page()
    log_in(page, *OPERATOR, next_path="/console/iot/streams")
    page.wait_for_url("**/console/iot/streams")
    info = page.get_by_text("最新值")
    info.wait_for()
    key = info.inner_text().split(" · ")[0]
    chart = "[data-testid=iot-stream-chart]"
    page.wait_for_function(
        """async (selector) => {
            const {echarts} = await import('nicegui-echart');
            const chart = echarts.getInstanceByDom(document.querySelector(selector));
            return chart && chart.getOption().series[0].data.length > 0;
        }""",
        arg=chart, timeout=TIMEOUT_MS,
    )
    points = echart_option(page, chart)["series"][0]["data"]
    assert all(isinstance(value, int | float) for _time, value in points)
    assert painted_share(page, chart) > 0.005
    operator = token(server, *OPERATOR)
    latest = api_get(server, operator, "/iot/latest", thing_key=key.split("/")[0], property=key.split("/")[1])["items"]
    assert [item["datastream"] for item in latest] == [key]
    assert f"最新值 {latest[0]['result']:g}" in info.inner_text()
    screenshot(page, tmp_path, "iot-stream")


def test_iot_alert_board_lists_live_alerts(new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path) -> None:
    operator = token(server, *OPERATOR)
    stats = api_get(server, operator, "/iot/alerts/stats")
    live = api_get(server, operator, "/iot/alerts", status="live", limit=50)
    assert live["total"] > 0, "the demo city raises alerts from its readings"
    page = new_page()
    log_in(page, *OPERATOR, next_path="/console/iot/alerts")
    page.wait_for_url("**/console/iot/alerts")
    page.get_by_text(f"未处置 {stats['open']} 条 · 处置中 {stats['acknowledged']} 条").wait_for()
    cards = page.locator("[data-testid=iot-alert-board] [data-alert-id]")
    cards.first.wait_for()
    assert cards.count() == min(50, live["total"])
    first = live["items"][0]
    card = page.locator(f"[data-alert-id='{first['id']}']")
    assert first["title"] in card.inner_text()
    screenshot(page, tmp_path, "iot-alerts")


def test_iot_quality_page_reports_every_department(
    new_page: NewPage, server: Server, log_in: LogIn, tmp_path: Path
) -> None:
    page = new_page()
    log_in(page, *OPERATOR, next_path="/console/iot/quality")
    page.wait_for_url("**/console/iot/quality")
    body = page.locator("[data-testid=iot-quality]")
    body.get_by_text("统计窗口").wait_for()
    day = page.get_by_label("日期（YYYY-MM-DD）").input_value()
    report = api_get(server, token(server, *OPERATOR), "/iot/quality", date=day)
    assert report["summary"]["datastreams"] > 0
    card = body.locator(".q-card", has_text="数据流")
    assert card.inner_text().split()[-1] == f"{report['summary']['datastreams']:,}"
    departments = body.locator("table").first.locator("tbody tr")
    assert departments.count() == len(report["departments"]) > 0
    assert set(departments.locator("td:first-child").all_inner_texts()) == {
        d["department_name"] for d in report["departments"]}
    # Received/complete figures are left out: raw readings older than the retention are deleted a minute
    # after `serve` starts (the demo's readings are dated 2026-06-30), so they change under the test.
    assert body.get_by_text("问题数据流（共").count() == 1
    screenshot(page, tmp_path, "iot-quality")
