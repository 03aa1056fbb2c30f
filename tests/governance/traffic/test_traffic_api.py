"""The traffic API on the demo corridor: reads, interval processing with incidents as IoT alerts,
manual plans validated, retiming scheduled and applied, everything audited, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry
from xingcheng.governance.traffic.models import Detector, SignalPlan
from xingcheng.iot.models import Alert, Datastream

NET = "wuyi-corridor"
DEMO_NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)


def test_demo_corridor_is_imported_with_detectors_as_iot_datastreams(client, auth, any_db):
    networks = client.get("/api/v1/traffic/networks", headers=auth("operator")).json()
    corridor = next(n for n in networks if n["key"] == NET)
    assert 10 <= corridor["intersections"] <= 20 and corridor["detectors"] >= 100
    page = client.get(f"/api/v1/traffic/networks/{NET}/intersections?limit=100", headers=auth("operator")).json()
    assert page["total"] == corridor["intersections"]
    assert all(i["active_plan"] and i["active_plan"]["cycle_s"] > 0 for i in page["items"])
    assert any("芙蓉中路" in i["name"] for i in page["items"])
    keys = any_db.scalars(select(Detector.thing_key).limit(5)).all()
    streams = any_db.scalars(select(Datastream.key).where(Datastream.key.in_([f"{k}/vehicle_flow" for k in keys]))).all()
    assert len(streams) == len(keys)


def test_state_indices_and_week_comparison(client, auth):
    states = client.get(f"/api/v1/traffic/networks/{NET}/links/state", headers=auth("clerk")).json()
    assert states and all(1 <= s["level"] <= 5 and 0 <= s["tpi"] <= 10 for s in states)
    assert all(2 * (s["level"] - 1) <= s["tpi"] <= 2 * s["level"] for s in states)
    compare = client.get("/api/v1/traffic/indices/city", headers=auth("clerk")).json()
    assert compare["now"]["area_code"] == "430100" and compare["last_week"] is not None
    assert compare["change_pct"] is not None
    districts = client.get("/api/v1/traffic/indices?limit=5000", headers=auth("clerk")).json()
    assert len({row["area_code"] for row in districts}) >= 2


def test_demo_incident_opened_an_iot_alert(client, auth, any_db):
    incidents = client.get(f"/api/v1/traffic/incidents?network={NET}", headers=auth("operator")).json()
    assert incidents["total"] >= 1
    incident = incidents["items"][0]
    alert = any_db.get(Alert, incident["alert_id"])
    assert alert is not None and alert.source == "traffic" and alert.kind.startswith("traffic_")


def test_an_interval_with_a_sudden_slowdown_raises_an_incident(client, auth, any_db):
    headers = auth("operator")
    keys = any_db.scalars(select(Detector.thing_key).order_by(Detector.id)).all()
    start = DEMO_NOW + timedelta(minutes=15)
    normal = [{"thing_key": k, "count": 120, "occupancy": 0.1, "speed_kmh": 45} for k in keys]
    report = client.post(f"/api/v1/traffic/networks/{NET}/intervals", headers=headers,
                         json={"interval_start": start.isoformat(), "readings": normal}).json()
    assert report["readings_used"] == len(keys)
    jammed = [{**r, "count": 10, "occupancy": 0.9, "speed_kmh": 4} if i < 6 else r for i, r in enumerate(normal)]
    jammed.append({"thing_key": "no-such-detector", "count": 1, "occupancy": 0, "speed_kmh": 1})
    second = client.post(f"/api/v1/traffic/networks/{NET}/intervals", headers=headers,
                         json={"interval_start": (start + timedelta(minutes=15)).isoformat(), "readings": jammed})
    assert second.status_code == 200, second.text
    assert second.json()["incidents"] >= 1 and second.json()["unknown_detectors"] == ["no-such-detector"]
    assert client.post(f"/api/v1/traffic/networks/{NET}/intervals", headers=auth("clerk"),
                       json={"interval_start": start.isoformat(), "readings": normal}).status_code == 403


def test_manual_plans_are_validated_versioned_and_audited(client, auth, any_db):
    headers = auth("operator")
    page = client.get(f"/api/v1/traffic/networks/{NET}/intersections?limit=100", headers=headers).json()
    target = next(i for i in page["items"] if i["active_plan"])
    phases = target["active_plan"]["phases"]
    good = [{**p, "duration": p["duration"]} for p in phases]
    good[0]["duration"] = good[0]["duration"] + 5
    created = client.post(f"/api/v1/traffic/networks/{NET}/intersections/{target['key']}/plans", headers=headers,
                          json={"phases": good, "offset_s": 12})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "scheduled" and created.json()["version"] > target["active_plan"]["version"]
    # Every link green at once: conflicting protected greens.
    everything = [{"state": "G" * len(phases[0]["state"]), "duration": 40}, {"state": phases[1]["state"], "duration": 3}]
    rejected = client.post(f"/api/v1/traffic/networks/{NET}/intersections/{target['key']}/plans", headers=headers,
                           json={"phases": everything}).json()
    assert rejected["status"] == "rejected" and any("conflicting" in p for p in rejected["problems"])
    too_long = [{**p, "duration": 100} for p in phases]
    assert client.post(f"/api/v1/traffic/networks/{NET}/intersections/{target['key']}/plans", headers=headers,
                       json={"phases": too_long}).json()["status"] == "rejected"
    assert any_db.scalar(select(AuditEntry).where(AuditEntry.action == "traffic.plan.create")) is not None
    bad = client.post(f"/api/v1/traffic/networks/{NET}/intersections/{target['key']}/plans", headers=headers,
                      json={"phases": [{"state": "XYZ", "duration": 10}]})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/traffic/networks/{NET}/intersections/nope/plans", headers=headers).status_code == 404


def test_retiming_schedules_plans_that_apply_on_schedule(client, auth, any_db):
    headers = auth("operator")
    at = DEMO_NOW + timedelta(hours=1, minutes=3)
    report = client.post(f"/api/v1/traffic/networks/{NET}/retime", headers=headers,
                         json={"at": at.isoformat()}).json()
    assert report["retimed"] + report["unchanged"] + report["rejected"] >= 10
    assert report["effective_at"].startswith("2026-06-30T11:15")
    scheduled = any_db.scalars(select(SignalPlan).where(SignalPlan.status == "scheduled",
                                                        SignalPlan.source == "retimed")).all()
    assert len(scheduled) == report["retimed"]
    early = client.post("/api/v1/traffic/plans/apply", params={"now": (at + timedelta(minutes=1)).isoformat()},
                        headers=headers).json()
    assert early["applied"] == 0  # not due before the next interval boundary
    applied = client.post("/api/v1/traffic/plans/apply", params={"now": (at + timedelta(minutes=20)).isoformat()},
                          headers=headers).json()
    assert applied["applied"] >= report["retimed"] and applied["failed"] == []
    assert any_db.scalar(select(AuditEntry).where(AuditEntry.action == "traffic.plan.apply")) is not None
    assert any_db.scalar(select(AuditEntry).where(AuditEntry.action == "traffic.plan.retime")) is not None
    assert client.post(f"/api/v1/traffic/networks/{NET}/retime", headers=auth("clerk"), json={}).status_code == 403


def test_traffic_reads_need_login_and_unknown_networks_are_404(client, auth):
    assert client.get("/api/v1/traffic/networks").status_code == 401
    assert client.get("/api/v1/traffic/networks", headers=auth("citizen")).status_code == 403
    missing = client.get("/api/v1/traffic/networks/nowhere/links/state", headers=auth("operator"))
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
