"""`iot evaluate`: the city's rules against a simulated day with labelled incidents and near misses."""

from __future__ import annotations

from sqlalchemy import func, select

from xingcheng.iot.evaluation import simulate_and_evaluate
from xingcheng.iot.models import Alert


def test_rules_find_the_labelled_incidents_and_ignore_the_near_misses(db):
    alerts_before = db.scalar(select(func.count()).select_from(Alert))
    result = simulate_and_evaluate(db, seed=7, hours=12)
    assert result.incidents >= 8 and result.near_misses >= 8 and result.observations > 10_000
    assert set(result.by_type) == {"gas_leak", "water_rise", "structural_vibration", "sensor_stuck"}
    # The seed's goal: > 90 % warning accuracy, both ways.
    assert result.precision >= 0.9, result
    assert result.recall >= 0.9, result
    assert result.true_positives + result.false_positives == result.alerts
    # The simulation ran in a savepoint that was rolled back: the city's alert board is untouched.
    assert db.scalar(select(func.count()).select_from(Alert)) == alerts_before


def test_without_the_debounce_a_glitch_is_a_false_alarm(db):
    from xingcheng.iot.models import AlertRule

    for rule in db.scalars(select(AlertRule).where(AlertRule.key.in_(["gas-leak-lel", "gas-leak-ramp"]))):
        rule.params = {k: v for k, v in rule.params.items() if k != "min_points"}
    db.flush()
    result = simulate_and_evaluate(db, seed=7, hours=12)
    assert result.false_positives > 0 and result.precision < 1.0
