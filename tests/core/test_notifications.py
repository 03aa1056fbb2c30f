"""The inbox: send to a department, a role or an account; each recipient sees only their own."""

from __future__ import annotations


def test_department_notice_reaches_its_staff_only(client, auth):
    sent = client.post(
        "/api/v1/notifications",
        json={"recipient_kind": "department", "recipient_key": "xzsp", "title": "新办件提醒", "body": "企业开办申请待审核",
              "channels": ["in_app", "sms"]},
        headers=auth("admin"),
    )
    assert sent.status_code == 201
    # The demo city's own notices (e.g. a sharing request) may be waiting too: look for this one.
    clerk_inbox = client.get("/api/v1/notifications?unread_only=true", headers=auth("clerk")).json()
    [notice] = [n for n in clerk_inbox["items"] if n["title"] == "新办件提醒"]
    assert notice["channels"] == ["in_app", "sms"]
    steward_inbox = client.get("/api/v1/notifications", headers=auth("steward")).json()
    assert all(n["title"] != "新办件提醒" for n in steward_inbox["items"])

    assert client.post(f"/api/v1/notifications/{notice['id']}/read", headers=auth("steward")).status_code == 404
    read = client.post(f"/api/v1/notifications/{notice['id']}/read", headers=auth("clerk")).json()
    assert read["read_at"] is not None
    unread = client.get("/api/v1/notifications?unread_only=true", headers=auth("clerk")).json()
    assert all(n["id"] != notice["id"] for n in unread["items"])


def test_role_notice_and_read_all(client, auth):
    for title in ("值班提醒", "预警演练"):
        client.post("/api/v1/notifications", json={"recipient_kind": "role", "recipient_key": "operator", "title": title},
                    headers=auth("admin"))
    assert client.get("/api/v1/notifications", headers=auth("operator")).json()["total"] == 2
    assert client.post("/api/v1/notifications/read-all", headers=auth("operator")).json() == {"marked": 2}


def test_citizens_cannot_send(client, auth):
    response = client.post("/api/v1/notifications", json={"recipient_kind": "role", "recipient_key": "admin", "title": "x"},
                           headers=auth("citizen"))
    assert response.status_code == 403


def test_bad_recipient_kind_is_422(client, auth):
    response = client.post("/api/v1/notifications", json={"recipient_kind": "planet", "recipient_key": "x", "title": "x"},
                           headers=auth("admin"))
    assert response.status_code == 422
