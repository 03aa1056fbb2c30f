"""The console and cockpit in a real browser, against `xingcheng serve` on the small demo city
(the server, browser, page and login fixtures are in conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from xingcheng.core.registry import NAV_SECTIONS

if TYPE_CHECKING:
    from conftest import LogIn, Server


# ---- HTTP only: the UI mount must not swallow the API's own answers ------------------------------------

def test_unknown_api_path_is_problem_json_with_ui_mounted(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/nope", timeout=10)
    # First the route order: the API's catch-all answers, not the UI mounted at "/".
    assert response.headers["content-type"].startswith("application/problem+json"), response.text[:200]
    # Then the verdict: an unknown path is "not found", not "method not allowed".
    assert response.status_code == 404, response.text
    assert response.json()["status"] == 404


def test_health_answers_with_ui_mounted(server: Server) -> None:
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_portal_home_is_public_and_chinese(server: Server) -> None:
    response = httpx.get(f"{server.url}/", timeout=10)
    assert response.status_code == 200
    assert 'lang="zh-CN"' in response.text
    assert "一网通办" in response.text


def test_console_page_without_login_redirects_to_login(server: Server) -> None:
    response = httpx.get(f"{server.url}/console/system/users", timeout=10, follow_redirects=False)
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"] == "/login?next=%2Fconsole%2Fsystem%2Fusers"


def test_geojson_is_served_from_the_package(server: Server) -> None:
    response = httpx.get(f"{server.url}/xc-assets/changsha_districts.geojson", timeout=10)
    assert response.status_code == 200
    names = {f["properties"]["name"] for f in response.json()["features"]}
    assert len(names) == 9 and "岳麓区" in names


# ---- in the browser ----------------------------------------------------------------------------------

@pytest.mark.browser
def test_cockpit_after_login_shows_real_counts_and_draws_the_map(
    page: Any, server: Server, tmp_path_factory: pytest.TempPathFactory, log_in: LogIn
) -> None:
    log_in(page, "admin", "Admin@2026", next_path="/cockpit")
    page.wait_for_url("**/cockpit")
    persons = server.query("SELECT count(*) FROM person")
    assert persons > 0
    kpi = page.locator(".xc-kpi-persons .xc-kpi-value")
    kpi.wait_for()
    assert kpi.inner_text().strip() == f"{persons:,}"

    # The map is drawn by ECharts into a canvas: wait until it exists with a size and has painted districts.
    page.wait_for_function(
        """() => {
            const canvas = document.querySelector('.xc-cockpit-map canvas');
            return canvas && canvas.width > 0 && canvas.height > 0;
        }"""
    )
    painted = page.wait_for_function(
        """() => {
            const canvas = document.querySelector('.xc-cockpit-map canvas');
            const {width, height} = canvas;
            const pixels = canvas.getContext('2d').getImageData(0, 0, width, height).data;
            let opaque = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) opaque++;
            const share = opaque / (width * height);
            return share > 0.1 ? share : false;
        }""",
        timeout=30_000,
    ).json_value()
    assert painted > 0.1  # nine districts fill well over a tenth of the panel; a legend alone would not
    registered = page.evaluate(
        """async () => {
            const {echarts} = await import('nicegui-echart');
            const chart = echarts.getInstanceByDom(document.querySelector('.xc-cockpit-map .nicegui-echart'));
            return {map: !!echarts.getMap('changsha'), series: chart.getOption().series[0].data.length};
        }"""
    )
    assert registered == {"map": True, "series": 9}
    page.wait_for_timeout(800)  # let the map's entry animation settle before the picture
    shot = tmp_path_factory.mktemp("screenshots") / "cockpit.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


@pytest.mark.browser
def test_wrong_password_shows_the_chinese_error(page: Any, log_in: LogIn) -> None:
    log_in(page, "clerk", "not-the-password")
    error = page.locator(".xc-login-error")
    error.get_by_text("用户名或密码错误").wait_for()
    assert "/login" in page.url


@pytest.mark.browser
def test_repeated_failures_lock_the_account(page: Any, log_in: LogIn) -> None:
    # Each failure must be committed although authenticate raises; otherwise the lock never comes.
    for attempt in range(5):
        log_in(page, "steward", f"wrong-{attempt}")
        page.locator(".xc-login-error").get_by_text("用户名或密码错误").wait_for()
    log_in(page, "steward", "Steward@2026")
    page.locator(".xc-login-error").get_by_text("临时锁定").wait_for()
    assert "/login" in page.url


@pytest.mark.browser
def test_anonymous_cockpit_redirects_to_login(page: Any) -> None:
    page.goto("/cockpit")
    page.wait_for_url("**/login?next=%2Fcockpit")
    page.locator(".xc-login-button").wait_for()


@pytest.mark.browser
def test_console_navigation_lists_the_seven_sections_in_order(
    page: Any, tmp_path_factory: pytest.TempPathFactory, log_in: LogIn
) -> None:
    log_in(page, "admin", "Admin@2026")
    page.wait_for_url("**/console")
    sections = page.locator(".xc-nav-section")
    sections.first.wait_for()
    assert [s.strip() for s in sections.all_inner_texts()] == list(NAV_SECTIONS.values())
    assert page.locator(".xc-user-name").inner_text() == "系统管理员"
    assert page.locator(".xc-nav-pending").count() >= 1  # sections nobody has built yet say 建设中
    page.screenshot(path=str(tmp_path_factory.mktemp("screenshots") / "console.png"), full_page=True)


@pytest.mark.browser
def test_persons_page_is_masked_and_paged(page: Any, server: Server, tmp_path_factory: pytest.TempPathFactory, log_in: LogIn) -> None:
    log_in(page, "admin", "Admin@2026", next_path="/console/datahub/persons")
    page.wait_for_url("**/console/datahub/persons")
    first_id = page.locator(".xc-persons-table tbody tr td").first
    first_id.wait_for()
    shown = first_id.inner_text().strip()
    assert len(shown) == 18 and shown[6:14] == "********"
    persons = server.query("SELECT count(*) FROM person")
    assert f"共 {persons:,} 条记录" in page.locator(".xc-total").inner_text()
    page.screenshot(path=str(tmp_path_factory.mktemp("screenshots") / "persons.png"), full_page=True)


@pytest.mark.browser
def test_nav_permission_is_enforced(page: Any, log_in: LogIn) -> None:
    # The operator role may read the directory and the cockpit but not the registries.
    log_in(page, "operator", "Operator@2026", next_path="/console/datahub/persons")
    page.wait_for_url("**/console/datahub/persons")
    page.get_by_text("403 · 无权访问").wait_for()
    assert page.locator('.xc-nav-item[data-path="/console/datahub/persons"]').count() == 0
    assert page.locator('.xc-nav-item[data-path="/console/system/departments"]').count() == 1


@pytest.mark.browser
def test_inbox_lists_and_marks_read(page: Any, server: Server, log_in: LogIn) -> None:
    from xingcheng.core.db import Database, create_db_engine
    from xingcheng.core.notifications.schemas import NotificationCreate
    from xingcheng.core.notifications.service import notify

    engine = create_db_engine(f"sqlite:///{server.data_dir / 'xingcheng.db'}")
    try:
        with Database(engine).session_scope() as session:
            notify(session, source="core", data=NotificationCreate(
                recipient_kind="account", recipient_key=str(server.query("SELECT id FROM account WHERE username = ?", "clerk")),
                title="浏览器测试通知", body="请确认收到。",
            ))
    finally:
        engine.dispose()
    log_in(page, "clerk", "Clerk@2026", next_path="/console/system/notifications")
    item = page.locator(".xc-inbox-item", has_text="浏览器测试通知")
    item.wait_for()
    assert item.locator(".q-badge", has_text="未读").is_visible()
    item.get_by_role("button", name="标为已读").click()
    page.locator(".xc-inbox-item", has_text="浏览器测试通知").get_by_role("button", name="标为已读").wait_for(state="detached")
    assert server.query("SELECT count(*) FROM notification WHERE title='浏览器测试通知' AND read_at IS NOT NULL") == 1


@pytest.mark.browser
def test_registry_filters_ask_the_database(page: Any, server: Server, log_in: LogIn) -> None:
    log_in(page, "clerk", "Clerk@2026", next_path="/console/datahub/persons")
    page.wait_for_url("**/console/datahub/persons")
    page.locator(".xc-total").get_by_text("共").wait_for()
    page.locator(".xc-district-filter").click()
    page.locator(".q-menu .q-item", has_text="岳麓区").click()
    yuelu = server.query("SELECT count(*) FROM person WHERE division_code = '430104'")
    page.locator(".xc-total", has_text=f"共 {yuelu:,} 条记录").wait_for()
    assert set(page.locator(".xc-persons-table tbody tr td:nth-child(5)").all_inner_texts()) == {"岳麓区"}

    name = server.query("SELECT name FROM legal_entity ORDER BY id LIMIT 1")
    page.goto("/console/datahub/legal-entities")
    page.locator(".xc-keyword input").fill(name)
    page.locator(".xc-search").click()
    page.locator(".xc-entities-table tbody tr", has_text=name).first.wait_for()
    matches = server.query("SELECT count(*) FROM legal_entity WHERE instr(name, ?) > 0", name)
    page.locator(".xc-total", has_text=f"共 {matches:,} 条记录").wait_for()


@pytest.mark.browser
def test_citizen_gets_a_chinese_403_in_the_console(page: Any, log_in: LogIn) -> None:
    log_in(page, "citizen", "Citizen@2026")
    page.wait_for_url("**/console")
    page.get_by_text("403 · 无权访问").wait_for()
    page.get_by_text("管理控制台仅向政府工作人员开放").wait_for()
    page.goto("/cockpit")
    page.get_by_text("城市运行驾驶舱仅向授权的工作人员开放").wait_for()
