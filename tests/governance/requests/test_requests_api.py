"""``/api/v1/requests`` over HTTP: citizens file and follow, staff dispatch and handle, errors as problem+json."""

from __future__ import annotations

from _requests_helpers import BEIJING, FURONG, staff_account

from xc_testing import login


def _file(client, headers, text="楼下烧烤摊油烟太大熏得睡不着", **extra):  # type: ignore[no-untyped-def]
    body = {"description": text, "lon": FURONG[0], "lat": FURONG[1], "contact_phone": "13800138000", **extra}
    return client.post("/api/v1/requests", json=body, headers=headers)


def test_citizen_files_and_follows_a_request(client, auth):
    response = _file(client, auth("citizen"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["department_code"] == "cgj" and created["status"] == "assigned"
    assert created["contact_phone"] == "13800138000"  # the citizen sees their own contact in clear
    assert created["events"][0]["action"] == "submit"
    mine = client.get("/api/v1/requests", headers=auth("citizen")).json()
    assert created["id"] in {item["id"] for item in mine["items"]}
    assert all(item["id"] != 0 for item in mine["items"])
    detail = client.get(f"/api/v1/requests/{created['id']}", headers=auth("citizen"))
    assert detail.status_code == 200
    # Staff outside the handling department read it with the contact masked.
    seen_by_clerk = client.get(f"/api/v1/requests/{created['id']}", headers=auth("clerk")).json()
    assert seen_by_clerk["contact_phone"] != "13800138000" and "*" in seen_by_clerk["contact_phone"]


def test_citizens_do_not_see_other_peoples_requests(client, auth):
    created = _file(client, auth("operator")).json()  # filed by the hotline on a caller's behalf
    assert client.get(f"/api/v1/requests/{created['id']}", headers=auth("citizen")).status_code == 403
    assert client.get("/api/v1/requests", headers=auth("enterprise")).json()["total"] == 0


def test_dispatch_and_handle_over_http(client, auth, any_db):
    staff_account(any_db, "mz", "mz_handler")
    handler = login(client, "mz_handler", "Handler@2026")
    created = _file(client, auth("citizen"), text="你好，我想问一下这个事情").json()
    assert created["status"] == "dispatch"
    queue = client.get("/api/v1/requests", params={"status": "dispatch"}, headers=auth("operator")).json()
    assert created["id"] in {item["id"] for item in queue["items"]}
    assert client.post(f"/api/v1/requests/{created['id']}/dispatch", json={"department_code": "mz"},
                       headers=auth("clerk")).status_code == 403
    dispatched = client.post(f"/api/v1/requests/{created['id']}/dispatch", json={"department_code": "mz"},
                             headers=auth("operator"))
    assert dispatched.status_code == 200 and dispatched.json()["department_code"] == "mz"
    assert client.post(f"/api/v1/requests/{created['id']}/accept", headers=auth("clerk")).status_code == 403
    assert client.post(f"/api/v1/requests/{created['id']}/accept", headers=handler).status_code == 200
    replied = client.post(f"/api/v1/requests/{created['id']}/reply", json={"reply": "已电话答复政策"}, headers=handler)
    assert replied.json()["status"] == "replied"
    confirmed = client.post(f"/api/v1/requests/{created['id']}/confirm", json={"satisfaction": 5}, headers=auth("citizen"))
    assert confirmed.status_code == 200 and confirmed.json()["satisfaction"] == 5
    again = client.post(f"/api/v1/requests/{created['id']}/confirm", json={"satisfaction": 5}, headers=auth("citizen"))
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")


def test_bad_input_answers_problem_json(client, auth):
    headers = auth("citizen")
    for body, status in (
        ({"description": ""}, 422), ({"description": "   "}, 422), ({"description": "长" * 2001}, 422),
        ({"description": "路灯坏了", "lon": BEIJING[0], "lat": BEIJING[1]}, 422),
        ({"description": "路灯坏了", "category_code": "NO-SUCH"}, 404),
        ({"description": "路灯坏了", "lon": 112.9}, 422),
    ):
        response = client.post("/api/v1/requests", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert problem["status"] == status and problem["type"].startswith("https://xingcheng.dev/problems/")
    assert client.post("/api/v1/requests", json={"description": "路灯坏了"}).status_code == 401
    assert client.post("/api/v1/requests", json={"description": "路灯坏了"}, headers=auth("clerk")).status_code == 403


def test_route_analytics_and_categories(client, auth):
    routed = client.post("/api/v1/requests/route", json={"text": "家里停电了"}, headers=auth("clerk")).json()
    assert routed["department_code"] == "gdj" and routed["department_name"]
    categories = client.get("/api/v1/requests/categories").json()  # public
    assert {"code": "CG-BBQ"}.items() <= categories[1].items() or any(c["code"] == "CG-BBQ" for c in categories)
    figures = client.get("/api/v1/requests/analytics", params={"days": 42}, headers=auth("operator")).json()
    assert figures["total"] > 50  # the demo's weeks of requests
    assert figures["by_district"] and figures["hotspots"] and figures["weekly"]
    assert 0 < figures["satisfied_rate"] <= 1 and figures["avg_handling_days"] > 0
    assert client.get("/api/v1/requests/analytics", headers=auth("citizen")).status_code == 403
    assert client.post("/api/v1/requests/sla/run", headers=auth("operator")).status_code == 200
