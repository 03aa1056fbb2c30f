"""The policy API on SQLite and PostgreSQL: editing with per-condition problems, preview, push,
an enterprise's own matches and pushes, feedback, figures, and who may do what."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from xingcheng.core.identity.models import Account
from xingcheng.datahub.registries.models import LegalEntity


def demo_enterprise(session) -> LegalEntity:  # type: ignore[no-untyped-def]
    code = session.scalar(select(Account.credit_code).where(Account.username == "enterprise"))
    return session.scalars(select(LegalEntity).where(LegalEntity.credit_code == code)).one()


def body_for(entity: LegalEntity, code: str, **changes: Any) -> dict[str, Any]:
    return {
        "code": code, "title": "岳麓区软件和信息技术服务业发展扶持", "level": "district", "issuer": "岳麓区科技和工业信息化局",
        "division_code": entity.division_code, "benefit_amount_yuan": 50_000, "benefit_note": "一次性奖励5万元",
        "deadline": "2027-06-30",
        "conditions": {"all": [{"field": "division_code", "op": "==", "value": entity.division_code},
                               {"field": "industry_code", "op": "prefix", "value": [entity.industry_code]}]},
        **changes,
    }


def test_saving_a_bad_rule_set_answers_422_with_one_error_per_condition(client, auth):
    body = body_for_dummy = {
        "code": "TEST-BAD-0001", "title": "测试政策", "level": "municipal", "issuer": "长沙市科学技术局",
        "conditions": {"all": [{"field": "turnover", "op": ">=", "value": 1},
                               {"field": "employees", "op": "~", "value": 1},
                               {"field": "high_tech", "op": "==", "value": "yes"}]},
    }
    response = client.post("/api/v1/policy/policies", json=body, headers=auth("admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert [(e["pointer"], e["type"]) for e in errors] == [
        ("/conditions/all/0/field", "unknown_field"), ("/conditions/all/1/op", "bad_op"),
        ("/conditions/all/2/value", "wrong_type")]
    assert body_for_dummy["code"] == "TEST-BAD-0001"
    check = client.post("/api/v1/policy/conditions/check", json={"conditions": body["conditions"]}, headers=auth("admin"))
    assert check.status_code == 200 and not check.json()["valid"] and len(check.json()["errors"]) == 3


def test_staff_create_preview_push_and_the_enterprise_sees_its_match(client, auth, any_db):
    entity = demo_enterprise(any_db)
    created = client.post("/api/v1/policy/policies", json=body_for(entity, "TEST-API-0001"), headers=auth("admin"))
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["condition_text"][1].startswith("所属行业（GB/T 4754）行业属于")
    preview = client.get(f"/api/v1/policy/policies/{policy['id']}/preview", headers=auth("admin")).json()
    assert preview["qualified"] >= 1 and preview["already_pushed"] == 0
    assert [d["division_code"] for d in preview["by_district"] if d["qualified"]] == [entity.division_code]
    push = client.post(f"/api/v1/policy/policies/{policy['id']}/push", headers=auth("admin"))
    assert push.status_code == 200 and push.json()["new_pushes"] == preview["qualified"]
    again = client.post(f"/api/v1/policy/policies/{policy['id']}/push", headers=auth("admin")).json()
    assert again["new_pushes"] == 0 and again["already_pushed"] == preview["qualified"]

    matches = client.get("/api/v1/policy/me/matches", headers=auth("enterprise"))
    assert matches.status_code == 200
    mine = next(m for m in matches.json()["qualified"] if m["code"] == "TEST-API-0001")
    assert all(r["passed"] for r in mine["reasons"])
    pushes = client.get("/api/v1/policy/pushes", params={"policy_id": policy["id"]}, headers=auth("enterprise")).json()
    assert pushes["total"] == 1 and pushes["items"][0]["credit_code"] == entity.credit_code
    feedback = client.post(f"/api/v1/policy/pushes/{pushes['items'][0]['id']}/feedback", json={"useful": True},
                           headers=auth("enterprise"))
    assert feedback.status_code == 200 and feedback.json()["feedback"] == "useful"
    stats = client.get("/api/v1/policy/stats", headers=auth("operator")).json()
    assert stats["useful"] >= 1 and stats["pushes"] >= preview["qualified"]


def test_enterprises_see_only_their_own_matches_and_pushes(client, auth, any_db):
    entity = demo_enterprise(any_db)
    other = any_db.scalars(select(LegalEntity).where(LegalEntity.credit_code != entity.credit_code)).first()
    assert other is not None
    assert client.get(f"/api/v1/policy/enterprises/{other.credit_code}/matches",
                      headers=auth("enterprise")).status_code == 403
    assert client.get("/api/v1/policy/pushes", params={"credit_code": other.credit_code},
                      headers=auth("enterprise")).status_code == 403
    own = client.get("/api/v1/policy/pushes", headers=auth("enterprise")).json()
    assert all(item["credit_code"] == entity.credit_code for item in own["items"])
    staff_view = client.get(f"/api/v1/policy/enterprises/{other.credit_code}/matches", headers=auth("steward"))
    assert staff_view.status_code == 200 and staff_view.json()["credit_code"] == other.credit_code
    assert client.get("/api/v1/policy/me/matches", headers=auth("citizen")).status_code == 403
    foreign_push = client.get("/api/v1/policy/pushes", params={"limit": 200}, headers=auth("admin")).json()["items"]
    foreign = next(p for p in foreign_push if p["credit_code"] != entity.credit_code)
    assert client.post(f"/api/v1/policy/pushes/{foreign['id']}/feedback", json={"useful": False},
                       headers=auth("enterprise")).status_code == 404


def test_permissions_on_editing_and_pushing(client, auth, any_db):
    entity = demo_enterprise(any_db)
    assert client.get("/api/v1/policy/policies").status_code == 401
    for user in ("enterprise", "citizen", "operator"):
        response = client.post("/api/v1/policy/policies", json=body_for(entity, "TEST-PERM-0001"), headers=auth(user))
        assert response.status_code == 403, user
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/policy/stats", headers=auth("enterprise")).status_code == 403
    # Department staff maintain their own department's policies only (the clerk works at xzsp).
    own = client.post("/api/v1/policy/policies", json=body_for(entity, "TEST-PERM-0002"), headers=auth("clerk"))
    assert own.status_code == 201 and own.json()["department_code"] == "xzsp"
    foreign = client.post("/api/v1/policy/policies", json=body_for(entity, "TEST-PERM-0003", department_code="kjj"),
                          headers=auth("clerk"))
    assert foreign.status_code == 403
    kjj = client.get("/api/v1/policy/policies", params={"department_code": "kjj", "limit": 1},
                     headers=auth("clerk")).json()["items"][0]
    assert client.patch(f"/api/v1/policy/policies/{kjj['id']}", json={"benefit_note": "x"},
                        headers=auth("clerk")).status_code == 403
    edited = client.patch(f"/api/v1/policy/policies/{kjj['id']}", json={"benefit_note": "最高奖励30万元"},
                          headers=auth("admin"))
    assert edited.status_code == 200 and edited.json()["benefit_note"] == "最高奖励30万元"
    duplicate = client.post("/api/v1/policy/policies", json=body_for(entity, "TEST-PERM-0002"), headers=auth("admin"))
    assert duplicate.status_code == 409


def test_list_filters_and_unknown_policy(client, auth):
    free = client.get("/api/v1/policy/policies", params={"no_application": True, "level": "municipal"},
                      headers=auth("enterprise")).json()
    assert free["total"] > 0 and all(p["no_application"] and p["level"] == "municipal" for p in free["items"])
    found = client.get("/api/v1/policy/policies", params={"q": "稳岗返还"}, headers=auth("enterprise")).json()
    assert found["total"] > 0 and all("稳岗返还" in p["title"] for p in found["items"])
    assert client.get("/api/v1/policy/policies/999999999", headers=auth("admin")).status_code == 404
    fields = client.get("/api/v1/policy/fields", headers=auth("clerk")).json()
    assert {"high_tech", "industry_code", "graduates_hired"} <= {f["name"] for f in fields}
