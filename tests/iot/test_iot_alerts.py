"""Alert rules evaluated on ingest, the alert lifecycle, deduplication, events and the silent-sensor sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select

from xingcheng.core.auth import SYSTEM
from xingcheng.core.events import InProcessBus
from xingcheng.core.outbox import set_bus
from xingcheng.iot import alerts, rules
from xingcheng.iot.models import Alert, Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import AlertRaise, RuleCreate

URL = "/api/v1/iot/observations"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _stream(session, prop: str):  # type: ignore[no-untyped-def]
    """A demo datastream of ``prop`` that no demo incident touched (thing key, datastream key, id)."""
    return session.execute(
        select(Thing.key, Datastream.key, Datastream.id).join(Datastream, Datastream.thing_id == Thing.id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(ObservedProperty.name == prop, Thing.division_code != "430102").order_by(Datastream.id).limit(1)
    ).one()


def _rule(session, **spec):  # type: ignore[no-untyped-def]
    spec.setdefault("name", "测试规则")
    return rules.create_rule(session, data=RuleCreate.model_validate(spec), actor=SYSTEM)


def _feed(session, store, stream_id: int, values: list[float], *, step_s: int = 300, start: datetime = T0) -> None:
    """Store and evaluate ``values`` as one batch, the way ingest does."""
    times = [(start + timedelta(seconds=i * step_s)).replace(tzinfo=None) for i in range(len(values))]
    batch = pa.table({
        "index": pa.array(range(len(values)), pa.int64()), "datastream_id": pa.array([stream_id] * len(values), pa.int64()),
        "phenomenon_time": pa.array(times, pa.timestamp("us")), "result": pa.array(values, pa.float64()),
    })
    store.append(batch)
    rules.evaluate_batch(session, batch)


def _alerts(session, key_part: str) -> list[Alert]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(Alert).where(Alert.dedup_key.contains(key_part)).order_by(Alert.id)))


def test_threshold_with_hysteresis_opens_once_and_clears_only_past_the_clear_level(db, iot_store):
    thing, key, stream_id = _stream(db, "methane_lel")
    _rule(db, key="t-gas", kind="threshold", severity="critical", property="methane_lel",
          params={"op": "ge", "value": 10, "clear_value": 5})
    # Up through the line, hovering around it (no flapping), down below 5: one alert, then resolved.
    _feed(db, iot_store, stream_id, [1, 4, 11, 9, 10.5, 8, 6])
    [alert] = _alerts(db, "t-gas")
    assert (alert.status, alert.thing_key, alert.datastream_key, alert.severity) == ("open", thing, key, "critical")
    assert alert.opened_at == T0 + timedelta(seconds=600)
    assert alert.department_code == "rqgs"  # the gas sensor's owner
    _feed(db, iot_store, stream_id, [4.5], start=T0 + timedelta(minutes=35))
    db.refresh(alert)
    assert alert.status == "resolved" and alert.resolved_by == "system"
    # A new excursion is a new alert, not the resolved one reopened.
    _feed(db, iot_store, stream_id, [12], start=T0 + timedelta(minutes=40))
    assert [a.status for a in _alerts(db, "t-gas")] == ["resolved", "open"]


def test_state_carries_across_batches_and_a_retried_batch_raises_nothing_twice(db, iot_store):
    _, _, stream_id = _stream(db, "vibration_accel")
    _rule(db, key="t-sustained", kind="sustained", property="vibration_accel",
          params={"op": "gt", "value": 2.5, "duration_s": 900})
    _feed(db, iot_store, stream_id, [3.0, 3.1], step_s=300)  # 5 minutes over: not yet
    assert _alerts(db, "t-sustained") == []
    _feed(db, iot_store, stream_id, [3.2, 3.3], start=T0 + timedelta(minutes=10))  # 15 minutes over now
    [alert] = _alerts(db, "t-sustained")
    assert alert.details["since"].startswith(T0.replace(tzinfo=None).isoformat()[:16])
    # The same rows again: the store calls them duplicates and evaluation sees nothing new.
    times = [(T0 + timedelta(minutes=m)).replace(tzinfo=None) for m in (10, 15)]
    batch = pa.table({"index": pa.array([0, 1], pa.int64()), "datastream_id": pa.array([stream_id] * 2, pa.int64()),
                      "phenomenon_time": pa.array(times, pa.timestamp("us")), "result": pa.array([3.2, 3.3])})
    duplicates = iot_store.append(batch)
    assert duplicates.to_pylist() == [0, 1]
    assert alert.occurrences == 1


def test_rate_of_rise_catches_a_ramp_and_ignores_noise(db, iot_store):
    _, _, ramp_id = _stream(db, "water_level")
    _rule(db, key="t-rise", kind="rate_of_rise", property="water_level", params={"rise": 25, "window_s": 3600})
    noisy = [18, 19.5, 17.8, 18.6, 19.9, 18.1, 18.7, 19.2, 17.9, 18.4]
    _feed(db, iot_store, ramp_id, noisy, step_s=600)
    assert _alerts(db, "t-rise") == []
    _feed(db, iot_store, ramp_id, [25, 34, 46, 58], step_s=600, start=T0 + timedelta(minutes=100))
    [alert] = _alerts(db, "t-rise")
    assert alert.value == 46 and alert.details["rise"] >= 25


def test_flatline_and_combination(db, iot_store):
    _, _, ph_id = _stream(db, "ph")
    _rule(db, key="t-flat", kind="flatline", property="ph", params={"duration_s": 3600, "tolerance": 0.0})
    _feed(db, iot_store, ph_id, [7.1] * 8, step_s=600)  # 70 minutes of exactly 7.1: stuck
    assert len(_alerts(db, "t-flat")) == 1
    thing = db.scalar(select(Thing).where(Thing.kind == "industrial_machine").order_by(Thing.id))
    streams = dict(db.execute(
        select(ObservedProperty.name, Datastream.id).join(Datastream, Datastream.observed_property_id == ObservedProperty.id)
        .where(Datastream.thing_id == thing.id)).all())
    _rule(db, key="t-combo", kind="combination", property="temperature", params={"window_s": 900, "conditions": [
        {"property": "temperature", "op": "gt", "value": 85}, {"property": "vibration_rms", "op": "gt", "value": 7.1}]})
    _feed(db, iot_store, streams["temperature"], [90, 92], step_s=300)  # hot, but vibration normal: nothing
    _feed(db, iot_store, streams["vibration_rms"], [3.0], start=T0 + timedelta(minutes=6))
    assert _alerts(db, "t-combo") == []
    _feed(db, iot_store, streams["vibration_rms"], [8.4], start=T0 + timedelta(minutes=8))
    [alert] = _alerts(db, "t-combo")
    assert alert.dedup_key == f"rule:t-combo:{thing.key}" and alert.datastream_key is None


def test_raise_alert_deduplicates_while_live_and_publishes_each_transition(db):
    bus = InProcessBus()
    seen: list[str] = []
    bus.subscribe("xc/events/iot/alert", lambda d: seen.append(f"{d.event.type}:{d.event.data['status']}"))
    set_bus(bus)
    try:
        data = AlertRaise(source="traffic", kind="incident", title="五一大道车速骤降", dedup_key="traffic:link-12",
                          division_code="430102", department_code="jtj", value=8.5)
        first, created = alerts.raise_alert(db, data)
        again, created_again = alerts.raise_alert(db, data.model_copy(update={"severity": "critical"}))
        assert created and not created_again and again.id == first.id
        assert (again.occurrences, again.severity) == (2, "critical")
        alerts.transition(db, alert_id=first.id, to="acknowledged", actor=SYSTEM)
        alerts.transition(db, alert_id=first.id, to="resolved", actor=SYSTEM)
        db.commit()  # events go out after commit only
        assert seen == ["xingcheng.iot.alert.opened:open", "xingcheng.iot.alert.acknowledged:acknowledged",
                        "xingcheng.iot.alert.resolved:resolved"]
        fresh, created_third = alerts.raise_alert(db, data)
        assert created_third and fresh.id != first.id  # resolved alerts are history, not reopened
    finally:
        set_bus(None)
        bus.close()


def test_silent_sweep_raises_for_quiet_datastreams_and_resolves_when_data_returns(db, iot_store):
    _, key, stream_id = _stream(db, "noise_laeq")
    _rule(db, key="t-silent", kind="silent", property="noise_laeq", thing_key=key.split("/")[0],
          params={"silent_after_s": 1800})
    now = datetime.now(UTC)
    assert rules.sweep_silent(db, store=iot_store, now=now) == 1  # nothing in this test's store: silent
    _feed(db, iot_store, stream_id, [55.0], start=now - timedelta(minutes=5))
    rules.sweep_silent(db, store=iot_store, now=now)
    [alert] = _alerts(db, "t-silent")
    assert alert.status == "resolved"


def test_rule_api_validates_every_problem_and_alert_api_runs_the_lifecycle(client, auth, api_store):
    bad = client.post("/api/v1/iot/rules", headers=auth("operator"), json={
        "key": "bad-rule", "name": "坏规则", "kind": "threshold", "property": "no_such_property",
        "params": {"op": "ge", "clear_value": 20}})
    assert bad.status_code == 422, bad.text
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"params.value", "property"} <= fields
    wrong_side = client.post("/api/v1/iot/rules", headers=auth("operator"), json={
        "key": "bad-rule", "name": "坏规则", "kind": "threshold", "property": "methane_lel",
        "params": {"op": "ge", "value": 10, "clear_value": 12}})
    assert wrong_side.status_code == 422 and "clear level" in wrong_side.json()["detail"]
    assert client.post("/api/v1/iot/rules", headers=auth("clerk"), json={}).status_code == 403

    made = client.post("/api/v1/iot/rules", headers=auth("operator"), json={
        "key": "api-gas", "name": "燃气超限", "kind": "threshold", "severity": "critical", "property": "methane_lel",
        "params": {"op": "ge", "value": 10, "clear_value": 5}})
    assert made.status_code == 201, made.text
    now = datetime.now(UTC)
    stream = client.get("/api/v1/iot/datastreams", headers=auth("operator"), params={"property": "methane_lel", "limit": 1})
    key = stream.json()["items"][0]["key"]
    items = [{"datastream": key, "phenomenon_time": (now - timedelta(minutes=m)).isoformat(), "result": v}
             for m, v in ((20, 1.0), (15, 12.0), (10, 14.0))]
    report = client.post(URL, headers=auth("operator"), json={"observations": items})
    assert report.json()["accepted"] == 3
    live = client.get("/api/v1/iot/alerts", headers=auth("operator"), params={"status": "live", "source": "iot.rule"})
    [alert] = [a for a in live.json()["items"] if a["dedup_key"] == f"rule:api-gas:{key}"]
    assert alert["value"] == 12.0

    url = f"/api/v1/iot/alerts/{alert['id']}"
    assert client.post(f"{url}/acknowledge", headers=auth("operator"), json={"note": "已派人核查"}).json()["status"] == "acknowledged"
    again = client.post(f"{url}/acknowledge", headers=auth("operator"))
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    assert client.post(f"{url}/resolve", headers=auth("operator")).json()["status"] == "resolved"
    closed = client.post(f"{url}/close", headers=auth("operator"))
    assert closed.json()["status"] == "closed" and closed.json()["note"] == "已派人核查"
    stats = client.get("/api/v1/iot/alerts/stats", headers=auth("operator")).json()
    assert stats["median_ack_seconds"] is not None


def test_department_staff_handle_only_their_own_departments_alerts(client, auth):
    raised = client.post("/api/v1/iot/alerts", headers=auth("operator"), json={
        "source": "manual", "kind": "report", "title": "市民来电：某小区燃气味重", "dedup_key": "manual:gas-1",
        "department_code": "rqgs", "division_code": "430104"})
    assert raised.status_code == 201, raised.text
    refused = client.post(f"/api/v1/iot/alerts/{raised.json()['id']}/acknowledge", headers=auth("clerk"))
    assert refused.status_code == 403


@pytest.mark.parametrize("status", ["open", "live"])
def test_demo_incidents_show_on_the_alert_board(client, auth, status):
    board = client.get("/api/v1/iot/alerts", headers=auth("operator"), params={"status": status, "division_code": "430102"})
    titles = {a["title"].split("（")[0] for a in board.json()["items"]}
    assert {"燃气泄漏浓度超限", "燃气浓度快速上升", "井下水位快速上涨"} <= titles
