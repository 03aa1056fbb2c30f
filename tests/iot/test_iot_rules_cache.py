"""The streaming rules are cached between batches, yet a rule created or changed anywhere applies to the next batch."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from sqlalchemy import select

from xingcheng.core.auth import SYSTEM
from xingcheng.core.db import Database, create_db_engine
from xingcheng.iot import rules
from xingcheng.iot.models import Alert, Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import RuleCreate, RuleUpdate

URL = "/api/v1/iot/observations"


def _gas_stream(session):  # type: ignore[no-untyped-def]
    """A demo methane datastream no demo incident touched: (key, id)."""
    return session.execute(
        select(Datastream.key, Datastream.id).join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(ObservedProperty.name == "methane_lel", Thing.division_code != "430102").order_by(Datastream.id).limit(1)
    ).one()


def _live(session, rule_key: str) -> list[Alert]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(Alert).where(Alert.dedup_key.startswith(f"rule:{rule_key}:"),
                                                    Alert.status.in_(("open", "acknowledged")))))


def test_a_rule_created_through_the_api_applies_to_the_very_next_batch(client, auth, api_store, any_db):
    key, _ = _gas_stream(any_db)
    now = datetime.now(UTC)

    def post(minutes: list[int], value: float) -> None:
        items = [{"datastream": key, "phenomenon_time": (now - timedelta(minutes=m)).isoformat(), "result": value}
                 for m in minutes]
        report = client.post(URL, headers=auth("operator"), json={"observations": items})
        assert report.status_code == 200 and report.json()["accepted"] == len(minutes), report.text

    post([50, 49], 40.0)  # primes the cache with the demo rules: the gas rule's 10 % LEL is already over
    assert _live(any_db, "cache-gas") == []
    made = client.post("/api/v1/iot/rules", headers=auth("operator"), json={
        "key": "cache-gas", "name": "缓存测试", "kind": "threshold", "property": "methane_lel",
        "params": {"op": "ge", "value": 30, "clear_value": 20}})
    assert made.status_code == 201, made.text
    post([48], 40.0)  # the next batch already sees the new rule
    [alert] = _live(any_db, "cache-gas")
    assert alert.value == 40.0

    # New parameters apply to the next batch too: 40 is below the raised line, so the alert clears.
    changed = client.patch("/api/v1/iot/rules/cache-gas", headers=auth("operator"),
                           json={"params": {"op": "ge", "value": 50, "clear_value": 45}})
    assert changed.status_code == 200, changed.text
    client.post(f"/api/v1/iot/alerts/{alert.id}/resolve", headers=auth("operator"))
    post([47], 40.0)
    assert _live(any_db, "cache-gas") == []
    post([46], 55.0)
    assert len(_live(any_db, "cache-gas")) == 1

    # Disabled: the next excursion raises nothing.
    assert client.patch("/api/v1/iot/rules/cache-gas", headers=auth("operator"), json={"enabled": False}).status_code == 200
    [live] = _live(any_db, "cache-gas")
    client.post(f"/api/v1/iot/alerts/{live.id}/resolve", headers=auth("operator"))
    post([45, 44], 10.0)
    post([43, 42], 60.0)
    assert _live(any_db, "cache-gas") == []


def test_unchanged_rules_are_not_read_again(db):
    first = rules.streaming_rules(db)
    assert first and all(r.kind != "silent" for r in first)
    assert rules.streaming_rules(db) is first  # only the fingerprint query ran
    rules.update_rule(db, key=first[0].key, data=RuleUpdate(name="改名以刷新缓存"), actor=SYSTEM)
    again = rules.streaming_rules(db)
    assert again is not first and again[0].name == "改名以刷新缓存"


def test_a_rule_committed_by_another_process_is_seen_by_a_cached_evaluator(template_dir, tmp_path):
    shutil.copy2(template_dir / "xingcheng.db", tmp_path / "xingcheng.db")
    url = f"sqlite:///{tmp_path / 'xingcheng.db'}"
    worker, api = Database(create_db_engine(url)), Database(create_db_engine(url))  # two engines = two processes' caches
    try:
        with worker.session_scope() as session:
            before = rules.streaming_rules(session)
            _, stream_id = _gas_stream(session)
        with api.session_scope() as session:
            rules.create_rule(session, data=RuleCreate.model_validate({
                "key": "other-process", "name": "另一进程创建", "kind": "threshold", "property": "methane_lel",
                "params": {"op": "ge", "value": 30}}), actor=SYSTEM)
        start = datetime.now(UTC).replace(microsecond=0, tzinfo=None) - timedelta(hours=1)
        batch = pa.table({
            "index": pa.array([0, 1], pa.int64()), "datastream_id": pa.array([stream_id] * 2, pa.int64()),
            "phenomenon_time": pa.array([start, start + timedelta(minutes=5)], pa.timestamp("us")),
            "result": pa.array([35.0, 36.0], pa.float64()),
        })
        with worker.session_scope() as session:
            assert "other-process" in {r.key for r in rules.streaming_rules(session)}
            assert len(rules.streaming_rules(session)) == len(before) + 1
            rules.evaluate_batch(session, batch)
            assert len(_live(session, "other-process")) == 1
    finally:
        worker.engine.dispose()
        api.engine.dispose()
