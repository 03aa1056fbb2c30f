"""Staff edit guides: their own department's items only (admins any), audited, bad input refused."""

from __future__ import annotations

from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry

XZSP_ITEM = "CS-XZSP-0001"  # the demo clerk works at 市行政审批服务局 (xzsp)


def test_clerk_updates_own_department_item_and_it_is_audited(client, auth, any_db):
    body = {
        "conditions": "申请人为本市登记的市场主体。",
        "fee_free": False, "fee_note": "工本费10元",
        "materials": [{"name": "营业执照", "source": "registry", "original": True}, {"name": "申请书"}],
    }
    response = client.patch(f"/api/v1/services/items/{XZSP_ITEM}", json=body, headers=auth("clerk"))
    assert response.status_code == 200, response.text
    guide = response.json()
    assert guide["conditions"] == body["conditions"] and guide["fee_note"] == "工本费10元" and not guide["fee_free"]
    assert [(m["name"], m["held_by_city"]) for m in guide["materials"]] == [("营业执照", True), ("申请书", False)]
    assert client.get(f"/api/v1/services/items/{XZSP_ITEM}").json()["materials_held_by_city"] == 1
    entry = any_db.scalars(
        select(AuditEntry).where(AuditEntry.action == "services.item.update").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.actor_name == "clerk" and entry.subject == f"service_item:{XZSP_ITEM}"
    assert entry.details["fields"] == ["conditions", "fee_free", "fee_note", "materials"]


def test_clerk_cannot_edit_another_departments_item(client, auth):
    response = client.patch("/api/v1/services/items/CS-GJJ-0003", json={"conditions": "x"}, headers=auth("clerk"))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


def test_admin_edits_any_item_and_citizens_cannot(client, auth):
    assert client.patch(
        "/api/v1/services/items/CS-GJJ-0003", json={"legal_basis": "《住房公积金管理条例》"}, headers=auth("admin")
    ).status_code == 200
    assert client.patch("/api/v1/services/items/CS-GJJ-0003", json={"conditions": "x"},
                        headers=auth("citizen")).status_code == 403
    assert client.patch("/api/v1/services/items/CS-GJJ-0003", json={"conditions": "x"}).status_code == 401


def test_bad_guide_edits_are_422_problems(client, auth):
    for body in ({}, {"materials": []}, {"materials": [{"name": "  "}]}, {"fee_note": "x" * 201},
                 {"materials": [{"name": "a"}, {"name": "a"}]}, {"name": "改名"},
                 {"materials": [{"name": "a", "source": "somewhere"}]}):
        response = client.patch(f"/api/v1/services/items/{XZSP_ITEM}", json=body, headers=auth("clerk"))
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")


def test_editing_an_unknown_item_is_404(client, auth):
    response = client.patch("/api/v1/services/items/CS-XZSP-9999", json={"conditions": "x"}, headers=auth("admin"))
    assert response.status_code == 404
