"""Quality reports find the demo generator's labelled defects (precision and recall) and keep history."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import func, select

from xingcheng.core.auth import Principal
from xingcheng.datahub.quality import service
from xingcheng.datahub.quality.models import DefectLabel, QualityReport
from xingcheng.datahub.quality.rules import dataset_rules
from xingcheng.datahub.registries.models import Person

STEWARD = Principal(kind="staff", name="steward", roles=frozenset({"data_steward"}), department_code="dsj")


def test_detection_precision_and_recall_on_the_demo(db):
    for subject in ("registry:person", "registry:legal_entity"):
        service.measure_registry(db, subject, actor=STEWARD)
    result = service.detection(db)
    assert result["labelled"] >= 100  # 1.5 % bad ID numbers alone are 30 of 2,000 residents
    assert result["precision"] >= 0.98 and result["recall"] >= 0.98
    rules = {(r["subject"], r["rule"]) for r in result["by_rule"]}
    assert {("registry:person", "invalid_id_number"), ("registry:person", "duplicate_record"),
            ("registry:person", "missing_phone"), ("registry:person", "stale_record"),
            ("registry:person", "claim_conflict"), ("registry:legal_entity", "invalid_credit_code")} <= rules
    for row in result["by_rule"]:
        assert row["precision"] >= 0.98 and row["recall"] >= 0.98, row


def test_measured_figures_follow_the_injected_rates(db):
    report = service.measure_registry(db, "registry:person", actor=STEWARD)
    persons = db.scalar(select(func.count()).select_from(Person))
    assert report.records == persons
    inaccurate = db.scalar(select(func.count()).select_from(DefectLabel).where(
        DefectLabel.subject == "registry:person",
        DefectLabel.rule.in_(("invalid_id_number", "invalid_phone", "id_birth_mismatch"))))
    assert report.metrics["accuracy"] == round(1 - inaccurate / persons, 6)
    assert report.metrics["completeness"] > 0.98  # the city's target; the demo stays just above it
    assert report.rules["invalid_id_number"]["failed"] == round(0.015 * (persons - report.rules["duplicate_record"]["failed"]))


def test_a_fixed_defect_disappears_from_the_next_report_and_history_is_kept(db):
    first = service.measure_registry(db, "registry:person", actor=STEWARD)
    missing, _ = service.defects(db, report_id=first.id, page=service.PageParams(limit=1), rule="missing_phone")
    person = db.get(Person, int(missing[0].record_ref))
    person.phone = "13907310000"
    db.flush()
    second = service.measure_registry(db, "registry:person", actor=STEWARD)
    assert second.rules["missing_phone"]["failed"] == first.rules["missing_phone"]["failed"] - 1
    history = service.history(db, "registry:person")
    assert [r.id for r in history[:2]] == [second.id, first.id]
    assert db.scalar(select(func.count()).select_from(QualityReport)) >= 3  # the demo's report too


def test_dataset_rules_on_a_small_table():
    fields = [{"name": "id_number", "type": "string", "kind": "id_number", "required": True, "title": "身份证号"},
              {"name": "phone", "type": "string", "kind": "phone", "required": False},
              {"name": "division_code", "type": "string", "kind": "free", "required": True}]
    table = pa.table({"id_number": ["430104199103041545", "430104199103041540", None, "430104199103041545"],
                      "phone": ["13907310000", "2390731000", None, "13907310000"],
                      "division_code": ["430104", "430104", "999999", "430104"]})
    rules = {r.rule: r for r in dataset_rules(table, fields, last_update=datetime(2020, 1, 1, tzinfo=UTC),
                                               frequency="daily", measured_at=datetime(2026, 11, 25, tzinfo=UTC))}
    assert [ref for ref, _ in rules["missing:id_number"].failed] == ["3"]
    assert [ref for ref, _ in rules["invalid:id_number"].failed] == ["2"]
    assert [ref for ref, _ in rules["invalid:phone"].failed] == ["2"]
    assert [ref for ref, _ in rules["invalid:division_code"].failed] == ["3"]
    assert [ref for ref, _ in rules["duplicate_row"].failed] == ["4"]
    assert rules["stale_dataset"].failed and rules["invalid:id_number"].checked == 3


def test_quality_api(client, auth):
    created = client.post("/api/v1/quality/reports", json={"subjects": ["registry:legal_entity"]}, headers=auth("steward"))
    assert created.status_code == 201, created.text
    report = created.json()[0]
    assert set(report["metrics"]) >= {"completeness", "validity", "uniqueness", "consistency", "timeliness", "accuracy"}
    assert client.post("/api/v1/quality/reports", json={}, headers=auth("clerk")).status_code == 403
    latest = client.get("/api/v1/quality/reports?kind=registry", headers=auth("clerk")).json()
    assert {r["subject"] for r in latest} >= {"registry:person", "registry:legal_entity"}
    defects = client.get(f"/api/v1/quality/reports/{report['id']}/defects?rule=invalid_credit_code",
                         headers=auth("clerk")).json()
    assert defects["total"] >= 1 and defects["items"][0]["rule"] == "invalid_credit_code"
    history = client.get("/api/v1/quality/reports/history?subject=registry:legal_entity", headers=auth("steward")).json()
    assert history[0]["id"] == report["id"] and len(history) >= 2
    detection = client.get("/api/v1/quality/detection", headers=auth("steward")).json()
    assert detection["labelled"] > 0
    assert client.get("/api/v1/quality/reports/999999", headers=auth("steward")).status_code == 404
