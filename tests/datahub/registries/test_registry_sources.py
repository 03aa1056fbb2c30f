"""一数一源 and 多源校核: authoritative updates overwrite, others become claims; the steward's queue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Conflict, Forbidden
from xingcheng.core.ids import validate_id_number
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries import sources
from xingcheng.datahub.registries.models import CorrectionRequest, Person


def staff(department: str, *roles: str) -> Principal:
    return Principal(kind="staff", name=f"{department}-staff", roles=frozenset(roles or {"department_staff"}),
                     department_code=department)


MZ, GAJ = staff("mz"), staff("gaj")
STEWARD = Principal(kind="staff", name="steward", roles=frozenset({"data_steward"}), department_code="dsj")


def _person(db, **where) -> Person:  # type: ignore[no-untyped-def]
    for person in db.scalars(select(Person).filter_by(**where).order_by(Person.id)):
        try:
            validate_id_number(person.id_number)
        except ValueError:
            continue
        return person
    raise AssertionError("no such demo person")


def test_the_authority_overwrites_and_is_audited(db):
    person = _person(db, marital_status="unmarried")
    outcomes = sources.submit_update(db, registry_name="person", record_key=person.id_number,
                                     changes={"marital_status": "married"}, source="婚姻登记系统", actor=MZ)
    assert [(o.field, o.action) for o in outcomes] == [("marital_status", "updated")]
    assert person.marital_status == "married"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "registries.field.update")
                       .order_by(AuditEntry.id.desc())).first()
    assert entry.subject == f"person:{person.id_number}" and entry.details["field"] == "marital_status"


def test_a_non_authority_makes_a_claim_not_an_overwrite(db):
    person = _person(db, marital_status="married")
    outcomes = sources.submit_update(db, registry_name="person", record_key=person.id_number,
                                     changes={"marital_status": "divorced", "gender": person.gender, "shoe_size": 42,
                                              "phone": "12345"}, source="户籍系统", actor=GAJ)
    by_field = {o.field: o for o in outcomes}
    assert by_field["marital_status"].action == "claim_conflict"
    assert by_field["gender"].action == "unchanged"  # 公安 owns gender: its update is authoritative
    assert by_field["shoe_size"].action == "rejected" and by_field["phone"].action == "rejected"
    assert person.marital_status == "married"
    claim = sources.get_claim_or_raise(db, by_field["marital_status"].claim_id)
    assert claim.authority_department_code == "mz" and sources.decode(claim.value) == "divorced"
    assert sources.decode(claim.authority_value) == "married"
    page, total = sources.list_claims(db, page=PageParams(limit=1000), record_key=person.id_number)
    assert claim in page and total >= 1
    evidence = sources.evidence(db, claim)
    assert evidence["authority"]["value"] == "married"
    assert evidence["claims"][0]["department_code"] == "gaj" and evidence["claims"][0]["source"] == "户籍系统"


def test_accepted_claim_becomes_a_correction_that_only_the_authority_applies(db):
    person = _person(db, marital_status="married")
    [outcome] = sources.submit_update(db, registry_name="person", record_key=person.id_number,
                                      changes={"marital_status": "widowed"}, source="殡葬管理系统", actor=GAJ)
    with pytest.raises(Forbidden):
        sources.resolve_claim(db, claim_id=outcome.claim_id, decision="accept", note="火化证明", actor=GAJ)
    claim, correction = sources.resolve_claim(db, claim_id=outcome.claim_id, decision="accept",
                                              note="火化证明与户籍注销记录一致", actor=STEWARD)
    assert claim.status == "accepted" and isinstance(correction, CorrectionRequest)
    assert person.marital_status == "married"  # the steward does not change the record
    with pytest.raises(Forbidden):
        sources.decide_correction(db, correction_id=correction.id, apply=True, note="核实无误", actor=GAJ)
    sources.decide_correction(db, correction_id=correction.id, apply=True, note="核实无误", actor=MZ)
    assert person.marital_status == "widowed" and correction.status == "applied"
    with pytest.raises(Conflict):
        sources.resolve_claim(db, claim_id=claim.id, decision="reject", note="重复处理", actor=STEWARD)


def test_verification_run_follows_the_authority(db):
    person = _person(db, marital_status="married")
    [outcome] = sources.submit_update(db, registry_name="person", record_key=person.id_number,
                                      changes={"marital_status": "divorced"}, source="户籍系统", actor=GAJ)
    sources.submit_update(db, registry_name="person", record_key=person.id_number,
                          changes={"marital_status": "divorced"}, source="婚姻登记系统", actor=MZ)
    claim = sources.get_claim_or_raise(db, outcome.claim_id)
    assert claim.status == "agrees"  # re-checked when the authority changed the field
    counts = sources.verify_claims(db, actor="test")
    assert counts["conflict"] >= 1 and counts["agrees"] >= 1  # the demo's claims


def test_conflict_queue_over_http(client, auth, any_db):
    queue = client.get("/api/v1/registries/claims?status=conflict&limit=5", headers=auth("steward")).json()
    assert queue["total"] > 0
    first = queue["items"][0]
    assert first["evidence"]["authority"]["department_code"] == first["authority_department_code"]
    assert client.get("/api/v1/registries/claims", headers=auth("citizen")).status_code == 403
    resolved = client.post(f"/api/v1/registries/claims/{first['id']}/resolve",
                           json={"decision": "reject", "note": "来源系统数据过期"}, headers=auth("steward"))
    assert resolved.status_code == 200 and resolved.json()["status"] == "rejected"
    assert client.post(f"/api/v1/registries/claims/{first['id']}/resolve", json={"decision": "reject", "note": "再次"},
                       headers=auth("clerk")).status_code == 403
    owners = client.get("/api/v1/registries/field-owners", headers=auth("clerk")).json()
    assert {"registry_name": "person", "field": "marital_status", "department_code": "mz"}.items() <= next(
        o for o in owners if o["registry_name"] == "person" and o["field"] == "marital_status").items()
