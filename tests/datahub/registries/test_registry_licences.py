"""E-licences: issue, verify (public), tamper detection, revocation, holders' and staff reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden, Invalid
from xingcheng.core.ids import make_credit_code, make_id_number
from xingcheng.datahub.registries import licences
from xingcheng.datahub.registries.models import Licence, Person

SCJ_CLERK = Principal(kind="staff", name="scj-clerk", roles=frozenset({"department_staff"}), department_code="scj")
GAJ_CLERK = Principal(kind="staff", name="gaj-clerk", roles=frozenset({"department_staff"}), department_code="gaj")
COMPANY = make_credit_code(authority="9", entity_type="1", division_code="430104", org_body="MA4L4UM7")
CITIZEN = Principal(kind="citizen", name="someone", roles=frozenset({"citizen"}))


def _issue(db, **overrides):  # type: ignore[no-untyped-def]
    values = dict(licence_type="resident_id_card", holder_id=make_id_number("430104", date(1991, 3, 4), 77, "F"),
                  holder_name="欧阳晓燕", issuing_department_code="gaj", valid_from=date(2024, 1, 1),
                  valid_until=date(2044, 1, 1), data={"address": "湖南省长沙市岳麓区麓山南路1号"}, source="test:issue",
                  actor=GAJ_CLERK)
    values.update(overrides)
    return licences.issue_licence(db, **values)


def test_issued_licence_verifies_and_is_audited(db):
    licence = _issue(db)
    assert licences.valid_number_format(licence.number) and licence.number.startswith("SFZ-")
    result = licences.verify_licence(db, licence.number)
    assert result.found and result.genuine and result.valid and result.status == "valid"
    assert result.holder_name_masked == "欧阳**" and "*" in (result.holder_id_masked or "")
    assert result.holder_id_masked != licence.holder_id
    actions = db.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"licence:{licence.number}")).all()
    assert "registries.licence.issue" in actions and "registries.licence.verify" in actions
    assert licence in licences.licences_of(db, licence.holder_id, "resident_id_card")


def test_a_changed_row_no_longer_verifies(db):
    licence = _issue(db)
    db.execute(update(Licence).where(Licence.id == licence.id).values(valid_until=date(2099, 1, 1)))
    db.expire_all()
    result = licences.verify_licence(db, licence.number)
    assert result.found and not result.genuine and not result.valid and result.status == "tampered"


def test_expired_revoked_and_unknown(db):
    expired = _issue(db, valid_from=date(2000, 1, 1), valid_until=date.today() - timedelta(days=1))
    assert licences.verify_licence(db, expired.number).status == "expired"
    revoked = _issue(db)
    licences.revoke_licence(db, number=revoked.number, reason="证件遗失补办", actor=GAJ_CLERK)
    assert licences.verify_licence(db, revoked.number).status == "revoked"
    assert licences.verify_licence(db, "SFZ-2026-0000000000X").status == "not_found"


def test_issuing_rules(db):
    with pytest.raises(Forbidden):  # 市场监管局 does not issue ID cards
        _issue(db, actor=SCJ_CLERK)
    with pytest.raises(Forbidden):
        _issue(db, actor=CITIZEN)
    with pytest.raises(Invalid, match="check digit"):
        _issue(db, holder_id="430104199103041540")  # the right check digit is 5
    with pytest.raises(Invalid):  # an ID card for a company
        _issue(db, holder_id=COMPANY, holder_name="某公司")
    with pytest.raises(Invalid, match="before valid_from"):
        _issue(db, valid_until=date(2020, 1, 1))
    with pytest.raises(Invalid, match="plain JSON"):
        _issue(db, data={"when": date(2020, 1, 1)})


def test_demo_has_signed_licences_for_persons_and_entities(db):
    counts = licences.counts_by_type(db)
    assert {"business_licence", "resident_id_card", "marriage_certificate", "real_estate_certificate"} <= set(counts)
    person = db.scalars(select(Person).where(Person.marital_status == "married").order_by(Person.id)).first()
    assert any(lic.licence_type == "marriage_certificate" for lic in licences.licences_of(db, person.id_number))
    for licence in db.scalars(select(Licence).order_by(Licence.id).limit(20)):
        assert licences.signature_valid(db, licence)


def test_public_verify_endpoint_needs_no_login(client, any_db):
    number = any_db.scalar(select(Licence.number).where(Licence.licence_type == "business_licence",
                                                        Licence.status == "valid").order_by(Licence.id))
    body = client.get(f"/api/v1/registries/licences/{number}/verify").json()
    assert body["genuine"] and body["valid"] and body["type_name"] == "营业执照"
    assert "holder_id" not in body and "data" not in body
    missing = client.get("/api/v1/registries/licences/YYZZ-2026-0000000000X/verify").json()
    assert missing["found"] is False and missing["status"] == "not_found"
    keys = client.get("/api/v1/registries/licence-keys").json()
    assert any(k["key_id"] == body["signing_key_id"] for k in keys)


def test_enterprise_reads_its_own_licences_and_staff_see_them_masked(client, auth):
    mine = client.get("/api/v1/registries/licences/me", headers=auth("enterprise")).json()
    assert mine and all("*" not in lic["holder_id"] for lic in mine)
    number = mine[0]["number"]
    staff = client.get(f"/api/v1/registries/licences/{number}", headers=auth("clerk")).json()
    assert "*" in staff["holder_id"] and staff["data"] == {}
    page = client.get("/api/v1/registries/licences?licence_type=business_licence&limit=3", headers=auth("clerk")).json()
    assert page["total"] > 0 and len(page["items"]) == 3


def test_issue_and_revoke_over_http(client, auth):
    body = {"licence_type": "food_business_licence", "holder_id": COMPANY, "holder_name": "长沙测试餐饮有限公司",
            "issuing_department_code": "xzsp", "valid_from": "2026-01-01", "valid_until": "2031-01-01",
            "data": {"category": "餐饮服务"}, "source": "CS-APP-TEST-1"}
    created = client.post("/api/v1/registries/licences", json=body, headers=auth("clerk"))
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    assert client.post("/api/v1/registries/licences", json=body, headers=auth("citizen")).status_code == 403
    revoked = client.post(f"/api/v1/registries/licences/{number}/revoke", json={"reason": "申请人主动注销"},
                          headers=auth("clerk"))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    again = client.post(f"/api/v1/registries/licences/{number}/revoke", json={"reason": "再次注销"}, headers=auth("clerk"))
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
