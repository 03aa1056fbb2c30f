"""How accurate are the city's alert rules? Simulate a day with labelled incidents and score the alerts.

The simulator streams realistic, noisy readings for the city's safety sensors (gas, manholes,
bridges, buildings) and injects labelled incidents — gas leak ramps, water-level rises, structural
vibration, stuck sensors — plus **near misses** that must *not* alarm (a small gas bump, a modest
water rise, a short vibration burst, a single glitching sample far over the gas alarm line).
The readings go through the real ingest path's rule evaluation (``rules.evaluate_batch``) in
15-minute batches, inside a transaction that is rolled back, with a private in-memory
observation store: the city's data is not touched.

Scoring: an alert is a true positive when it is on a thing with an incident of the matching type,
opened between the incident's start and 30 minutes after its end; precision = true-positive
alerts / all alerts, recall = incidents with at least one matching alert / incidents.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.iot import rules
from xingcheng.iot.demo import SIGNALS, create_demo_rules
from xingcheng.iot.models import Alert, Datastream, ObservedProperty, Thing
from xingcheng.iot.store import DuckDBObservationStore

START = datetime(2026, 7, 1, tzinfo=UTC)  # the day after the demo city's readings
BATCH = timedelta(minutes=15)
GRACE = timedelta(minutes=30)
# incident type → (thing kind, property, the rules whose alerts count as detecting it)
INCIDENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "gas_leak": ("gas_sensor", "methane_lel", ("gas-leak-lel", "gas-leak-ramp")),
    "water_rise": ("manhole_sensor", "water_level", ("manhole-water-rise",)),
    "structural_vibration": ("bridge_sensor", "vibration_accel", ("bridge-vibration",)),
    "sensor_stuck": ("gas_sensor", "methane_lel", ("gas-sensor-stuck",)),
}
NEAR_MISSES = {"gas_leak": "gas_bump", "water_rise": "water_bump", "structural_vibration": "vibration_burst",
               "sensor_stuck": "gas_glitch"}


@dataclass
class Incident:
    kind: str
    thing_key: str
    datastream_id: int
    start: datetime
    end: datetime
    labelled: bool = True  # False for a near miss, which must not alarm
    detected: bool = False
    frozen: float | None = None  # a stuck sensor's reading


@dataclass
class Evaluation:
    seed: int
    hours: int
    things: int
    observations: int
    incidents: int
    near_misses: int
    alerts: int
    true_positives: int
    false_positives: int
    detected: int
    precision: float
    recall: float
    by_type: dict[str, dict[str, float]] = field(default_factory=dict)
    mean_detection_minutes: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _profile(incident: Incident, moment: datetime, base: float) -> float | None:
    """The incident's reading at ``moment`` (None = the background value applies)."""
    if not incident.start <= moment <= incident.end:
        return None
    span = (incident.end - incident.start).total_seconds() or 1.0
    progress = (moment - incident.start).total_seconds() / span
    return {
        "gas_leak": base + 30.0 * progress,  # a leak ramps up to ~30 %LEL
        "gas_bump": base + 2.0 * math.sin(math.pi * progress),  # a passing whiff: up 2 %LEL and back
        "water_rise": base + 60.0 * progress,  # a blocked drain: +60 cm
        "water_bump": base + 12.0 * math.sin(math.pi * progress),  # rain: +12 cm and back
        "structural_vibration": 3.5 + 0.5 * math.sin(progress * 40),  # heavy sustained vibration
        "vibration_burst": 3.2,  # a heavy lorry: over the line, but only for minutes
        "sensor_stuck": round(base, 3),  # the reading freezes
        "gas_glitch": 18.0,  # one corrupt sample far over the alarm line (a sensor glitch, not a leak)
    }[incident.kind]


def simulate_and_evaluate(session: Session, *, seed: int = 7, hours: int = 24, incident_share: float = 0.15) -> Evaluation:
    """Run the simulation inside a savepoint that is always rolled back; return the scores."""
    nested = session.begin_nested()
    try:
        return _run(session, seed=seed, hours=hours, incident_share=incident_share)
    finally:
        nested.rollback()


def _run(session: Session, *, seed: int, hours: int, incident_share: float) -> Evaluation:
    rng = random.Random(seed)
    create_demo_rules(session)
    streams = session.execute(
        select(Datastream.id, Thing.key, Thing.kind, ObservedProperty.name, Datastream.expected_interval_s)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Thing.status == "active", Thing.kind.in_({k for k, _, _ in INCIDENTS.values()}))
        .order_by(Datastream.id)
    ).all()
    end = START + timedelta(hours=hours)
    incidents: list[Incident] = []
    busy: set[str] = set()
    for incident_kind, (thing_kind, prop, _) in INCIDENTS.items():
        candidates = [s for s in streams if s.kind == thing_kind and s.name == prop and s.key not in busy]
        for stream in rng.sample(candidates, k=max(1, int(len(candidates) * incident_share))) if candidates else []:
            length = timedelta(hours=3) if incident_kind == "sensor_stuck" else timedelta(minutes=rng.randint(30, 75))
            start = START + timedelta(minutes=rng.randrange(60, hours * 60 - 240))
            incidents.append(Incident(incident_kind, stream.key, stream.id, start, start + length))
            busy.add(stream.key)
            if incident_kind in NEAR_MISSES:  # a near miss on another sensor of the same kind
                others = [s for s in candidates if s.key not in busy]
                if others:
                    other = rng.choice(others)
                    burst = {"structural_vibration": timedelta(minutes=10), "sensor_stuck": timedelta(minutes=4)}.get(
                        incident_kind, timedelta(minutes=40))
                    miss_start = START + timedelta(minutes=rng.randrange(60, hours * 60 - 120))
                    incidents.append(Incident(NEAR_MISSES[incident_kind], other.key, other.id, miss_start,
                                              miss_start + burst, labelled=False))
                    busy.add(other.key)
    by_stream = {i.datastream_id: i for i in incidents}

    store = DuckDBObservationStore(":memory:")
    observations = 0
    try:
        factors = {s.id: rng.uniform(0.8, 1.2) for s in streams}
        offsets = {s.id: rng.randrange(s.expected_interval_s) for s in streams}
        window = START
        while window < end:
            ids: list[int] = []
            times: list[datetime] = []
            values: list[float] = []
            for stream in streams:
                interval = stream.expected_interval_s
                first = math.ceil(((window - START).total_seconds() - offsets[stream.id]) / interval)
                step = max(first, 0)
                while True:
                    moment = START + timedelta(seconds=offsets[stream.id] + step * interval)
                    if moment >= window + BATCH:
                        break
                    step += 1
                    if moment < window:
                        continue
                    hour = (moment.hour + 8 + moment.minute / 60) % 24
                    base = SIGNALS[stream.name](hour, rng, factors[stream.id])
                    incident = by_stream.get(stream.id)
                    if incident is not None:
                        if incident.kind == "sensor_stuck" and incident.start <= moment <= incident.end:
                            incident.frozen = round(base, 3) if incident.frozen is None else incident.frozen
                            base = incident.frozen
                        else:
                            special = _profile(incident, moment, base)
                            base = base if special is None else special
                    ids.append(stream.id)
                    times.append(moment.replace(tzinfo=None))
                    values.append(round(base, 3))
            batch = pa.table({
                "index": pa.array(range(len(ids)), pa.int64()), "datastream_id": pa.array(ids, pa.int64()),
                "phenomenon_time": pa.array(times, pa.timestamp("us")), "result": pa.array(values, pa.float64()),
            })
            store.append(batch)
            rules.evaluate_batch(session, batch)
            observations += batch.num_rows
            window += BATCH
    finally:
        store.close()
    return _score(session, incidents, seed=seed, hours=hours, things=len({s.key for s in streams}),
                  observations=observations)


def _score(session: Session, incidents: list[Incident], **facts: Any) -> Evaluation:
    alerts = list(session.scalars(select(Alert).where(Alert.source == "iot.rule", Alert.opened_at >= START)))
    true_positive = 0
    delays: list[float] = []
    per_type: dict[str, list[int]] = {}
    for alert in alerts:
        rule_key = alert.details.get("rule", "")
        opened = alert.opened_at if alert.opened_at.tzinfo else alert.opened_at.replace(tzinfo=UTC)
        match = next((i for i in incidents if i.labelled and i.thing_key == alert.thing_key
                      and rule_key in INCIDENTS[i.kind][2] and i.start <= opened <= i.end + GRACE), None)
        if match is not None:
            true_positive += 1
            if not match.detected:
                match.detected = True
                delays.append((opened - match.start).total_seconds() / 60)
    labelled = [i for i in incidents if i.labelled]
    for incident in labelled:
        counts = per_type.setdefault(incident.kind, [0, 0])
        counts[0] += 1
        counts[1] += incident.detected
    detected = sum(i.detected for i in labelled)
    return Evaluation(
        incidents=len(labelled), near_misses=len(incidents) - len(labelled), alerts=len(alerts),
        true_positives=true_positive, false_positives=len(alerts) - true_positive, detected=detected,
        precision=round(true_positive / len(alerts), 4) if alerts else 1.0,
        recall=round(detected / len(labelled), 4) if labelled else 1.0,
        by_type={kind: {"incidents": n, "recall": round(d / n, 4)} for kind, (n, d) in sorted(per_type.items())},
        mean_detection_minutes=round(sum(delays) / len(delays), 1) if delays else None,
        **facts,
    )
