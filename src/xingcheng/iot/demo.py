"""Demo step ``iot``: a sensor network across Changsha's nine districts and a few hours of its readings.

Things are registered through the same bulk import an operator uses; readings follow each
property's daily rhythm in Beijing time (rush-hour traffic, NO₂ and noise, night-time PM2.5,
afternoon dissolved oxygen, working-hours machines) with per-device offsets and noise, and go
into the observation store in one Arrow batch. Everything is drawn from ``ctx.rng("iot")``.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import SYSTEM
from xingcheng.core.errors import Unavailable
from xingcheng.core.identity.models import Division
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.iot import catalogue, rules
from xingcheng.iot.importer import import_things
from xingcheng.iot.models import AlertRule, Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import RuleCreate
from xingcheng.iot.store import borrowed_store

log = logging.getLogger("xingcheng.iot")
THINGS = {"small": 300, "city": 10_000}
HOURS = {"small": 6, "city": 12}
# The readings end at 20:00 Beijing time on the demo city's as-of day.
DEMO_END = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
RECORDED_AT = datetime(2026, 6, 30, tzinfo=UTC)
PREFIX = {
    "air_quality_station": "aq", "water_quality_point": "wq", "noise_meter": "ns", "traffic_detector": "td",
    "manhole_sensor": "mh", "gas_sensor": "gs", "bridge_sensor": "br", "building_sensor": "bd",
    "parking_sensor": "pk", "industrial_machine": "im",
}
# Share of the city's sensors per district: the urban core is denser than the outer counties.
DISTRICT_WEIGHTS = {
    "430102": 0.12, "430103": 0.12, "430104": 0.16, "430105": 0.12, "430111": 0.15,
    "430112": 0.08, "430121": 0.10, "430181": 0.08, "430182": 0.07,
}


def _rush(h: float) -> float:
    return math.exp(-(((h - 8.0) / 1.5) ** 2)) + math.exp(-(((h - 18.0) / 1.5) ** 2))


def _day(h: float) -> float:
    return 1.0 / (1.0 + math.exp(-(h - 7.0) * 2)) - 1.0 / (1.0 + math.exp(-(h - 22.0) * 2))


def _shift(h: float) -> float:
    return 1.0 if 8.0 <= h < 20.0 else 0.15


Signal = Callable[[float, random.Random, float], float]
# value(local hour, rng, per-device factor around 1.0)
SIGNALS: dict[str, Signal] = {
    "pm25": lambda h, r, f: max(1.0, f * (38 + 10 * math.cos(2 * math.pi * (h - 7) / 24) + 6 * _rush(h)) + r.gauss(0, 3)),
    "pm10": lambda h, r, f: max(2.0, f * (62 + 15 * math.cos(2 * math.pi * (h - 7) / 24) + 12 * _rush(h)) + r.gauss(0, 5)),
    "no2": lambda h, r, f: max(1.0, f * (22 + 28 * _rush(h) + 6 * _day(h)) + r.gauss(0, 3)),
    "ph": lambda h, r, f: 7.2 * f ** 0.1 + 0.2 * math.sin(2 * math.pi * (h - 9) / 24) + r.gauss(0, 0.04),
    "dissolved_oxygen": lambda h, r, f: max(0.5, 7.5 * f + 1.2 * math.sin(2 * math.pi * (h - 9) / 24) + r.gauss(0, 0.2)),
    "turbidity": lambda h, r, f: max(0.1, 12 * f + r.gauss(0, 1.5)),
    "noise_laeq": lambda h, r, f: 46 * f + 14 * _day(h) + 4 * _rush(h) + r.gauss(0, 1.8),
    "vehicle_flow": lambda h, r, f: float(max(0, round(1200 * f * (0.08 + 0.5 * _day(h) + 0.6 * _rush(h)) + r.gauss(0, 40)))),
    "avg_speed": lambda h, r, f: max(5.0, 52 * f - 24 * _rush(h) + r.gauss(0, 3)),
    "water_level": lambda h, r, f: max(0.0, 18 * f + r.gauss(0, 1.2)),
    "cover_tilt": lambda h, r, f: abs(0.4 * f + r.gauss(0, 0.1)),
    "methane_lel": lambda h, r, f: abs(0.2 * f + r.gauss(0, 0.15)),
    "vibration_accel": lambda h, r, f: abs(0.05 + 0.25 * f * (0.2 + _day(h) + _rush(h)) + r.gauss(0, 0.03)),
    "strain": lambda h, r, f: 120 * f + 45 * (_day(h) + _rush(h)) + r.gauss(0, 5),
    "tilt": lambda h, r, f: 0.1 * f + r.gauss(0, 0.02),
    "crack_width": lambda h, r, f: max(0.0, 0.3 * f + r.gauss(0, 0.01)),
    "occupied": lambda h, r, f: 1.0 if r.random() < min(0.95, 0.2 + 0.6 * _day(h) * f) else 0.0,
    "temperature": lambda h, r, f: 38 * f + 22 * _shift(h) + r.gauss(0, 1.2),
    "vibration_rms": lambda h, r, f: max(0.1, 1.5 * f + 3 * _shift(h) + r.gauss(0, 0.3)),
    "power": lambda h, r, f: max(0.0, 180 * f * (0.1 + 0.85 * _shift(h)) + r.gauss(0, 6)),
}


def thing_table(session: Session, rng: random.Random, count: int) -> pa.Table:
    """``count`` things spread over the districts by weight, kinds by their catalogue share."""
    names = dict(session.execute(select(Division.code, Division.name)).all())
    kinds = catalogue.kinds()
    districts = catalogue.raw_catalogue()["districts"]
    min_lon, min_lat, max_lon, max_lat = catalogue.CITY_BOUNDS
    kind_names = list(kinds)
    picked_kinds = rng.choices(kind_names, weights=[kinds[k].share for k in kind_names], k=count)
    picked_districts = rng.choices(list(DISTRICT_WEIGHTS), weights=list(DISTRICT_WEIGHTS.values()), k=count)
    rows = []
    sequence: dict[str, int] = {}
    for kind, division in zip(picked_kinds, picked_districts, strict=True):
        sequence[kind] = sequence.get(kind, 0) + 1
        (lon, lat), (spread_lon, spread_lat) = districts[division]["center"], districts[division]["spread"]
        rows.append({
            "key": f"{PREFIX[kind]}-{division}-{sequence[kind]:05d}",
            "name": f"{names[division]}{kinds[kind].label}{sequence[kind]:03d}",
            "kind": kind, "division_code": division,
            "lon": round(min(max_lon, max(min_lon, rng.gauss(lon, spread_lon))), 6),
            "lat": round(min(max_lat, max(min_lat, rng.gauss(lat, spread_lat))), 6),
            "install_date": (date(2020, 1, 1) + timedelta(days=rng.randrange(6 * 365))).isoformat(),
            "status": "maintenance" if rng.random() < 0.02 else "active",
        })
    return pa.Table.from_pylist(rows)


def observation_table(session: Session, rng: random.Random, hours: int) -> pa.Table:
    """Readings of every active thing's datastreams over the ``hours`` before ``DEMO_END``."""
    streams = session.execute(
        select(Datastream.id, ObservedProperty.name, Datastream.expected_interval_s)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(Thing, Thing.id == Datastream.thing_id).where(Thing.status == "active").order_by(Datastream.id)
    ).all()
    start = DEMO_END - timedelta(hours=hours)
    ids: list[int] = []
    times: list[datetime] = []
    values: list[float] = []
    for stream_id, prop, interval in streams:
        factor = rng.uniform(0.8, 1.2)
        signal = SIGNALS[prop]
        offset = rng.randrange(interval)  # devices do not all report on the same second
        for step in range(hours * 3600 // interval):
            moment = start + timedelta(seconds=offset + step * interval)
            local_hour = (moment.hour + 8 + moment.minute / 60) % 24
            ids.append(stream_id)
            times.append(moment.replace(tzinfo=None))
            values.append(round(signal(local_hour, rng, factor), 3))
    return pa.table({
        "index": pa.array(range(len(ids)), pa.int64()), "datastream_id": pa.array(ids, pa.int64()),
        "phenomenon_time": pa.array(times, pa.timestamp("us")), "result": pa.array(values, pa.float64()),
    })


# The city's standing alert rules (the thresholds follow common municipal practice: 25 %LEL is the
# usual second-stage gas alarm, 10 %LEL the first).
DEMO_RULES: list[dict[str, Any]] = [
    {"key": "gas-leak-lel", "name": "燃气泄漏浓度超限", "kind": "threshold", "severity": "critical", "property": "methane_lel",
     "params": {"op": "ge", "value": 10.0, "clear_value": 5.0, "min_points": 2}},
    {"key": "gas-leak-ramp", "name": "燃气浓度快速上升", "kind": "rate_of_rise", "severity": "warning", "property": "methane_lel",
     "params": {"rise": 3.0, "window_s": 1800, "min_points": 2}},
    {"key": "manhole-water-rise", "name": "井下水位快速上涨", "kind": "rate_of_rise", "severity": "warning",
     "property": "water_level", "params": {"rise": 25.0, "window_s": 3600, "min_points": 2}},
    {"key": "manhole-cover-open", "name": "井盖倾斜（疑似移位）", "kind": "threshold", "severity": "critical",
     "property": "cover_tilt", "params": {"op": "gt", "value": 15.0, "clear_value": 5.0, "min_points": 2}},
    {"key": "bridge-vibration", "name": "桥梁振动持续超限", "kind": "sustained", "severity": "critical",
     "property": "vibration_accel", "params": {"op": "gt", "value": 2.5, "duration_s": 900}},
    {"key": "building-tilt", "name": "房屋倾斜超限", "kind": "threshold", "severity": "critical", "property": "tilt",
     "params": {"op": "gt", "value": 1.0, "clear_value": 0.8}},
    {"key": "gas-sensor-stuck", "name": "燃气探测器数值僵死", "kind": "flatline", "severity": "warning",
     "property": "methane_lel", "params": {"duration_s": 5400, "tolerance": 0.0}},
    {"key": "water-ph-stuck", "name": "水质pH传感器数值僵死", "kind": "flatline", "severity": "info", "property": "ph",
     "params": {"duration_s": 7200, "tolerance": 0.0}},
    {"key": "machine-overheat", "name": "设备高温且振动异常", "kind": "combination", "severity": "warning",
     "property": "temperature", "params": {"window_s": 900, "conditions": [
         {"property": "temperature", "op": "gt", "value": 85.0}, {"property": "vibration_rms", "op": "gt", "value": 7.1}]}},
]


def create_demo_rules(session: Session) -> int:
    known = set(session.scalars(select(AlertRule.key)))
    made = 0
    for spec in DEMO_RULES:
        if spec["key"] not in known:
            rules.create_rule(session, data=RuleCreate.model_validate(spec), actor=SYSTEM)
            made += 1
    return made


def inject_incidents(session: Session, observations: pa.Table, rng: random.Random) -> pa.Table:
    """A gas leak ramp and a water-level rise in the last hour, so the alert board shows real rule output."""
    ramps = {"methane_lel": (0.3, 28.0), "water_level": (18.0, 95.0)}
    values = observations.column("result").to_pylist()
    ids = observations.column("datastream_id").to_pylist()
    times = observations.column("phenomenon_time").to_pylist()
    end = DEMO_END.replace(tzinfo=None)
    for prop, (low, high) in ramps.items():
        candidates = list(session.scalars(
            select(Datastream.id).join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
            .join(Thing, Thing.id == Datastream.thing_id)
            .where(ObservedProperty.name == prop, Thing.status == "active", Thing.division_code == "430102")
            .order_by(Datastream.id)
        ))
        if not candidates:
            continue
        target = rng.choice(candidates)
        for i, (ds, moment) in enumerate(zip(ids, times, strict=True)):
            minutes_left = (end - moment).total_seconds() / 60
            if ds == target and minutes_left <= 60:
                values[i] = round(low + (high - low) * (60 - minutes_left) / 60 + rng.gauss(0, 0.2), 3)
    return observations.set_column(observations.schema.get_field_index("result"), "result", pa.array(values, pa.float64()))


def load_sensors(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("iot")
    report = import_things(session, table=thing_table(session, rng, THINGS[ctx.scale]), progress=ctx.progress,
                           recorded_at=RECORDED_AT)
    create_demo_rules(session)
    observations = inject_incidents(session, observation_table(session, rng, HOURS[ctx.scale]), rng)
    stored = 0
    try:
        with borrowed_store() as store:
            store.append(observations)
            stored = observations.num_rows
        ctx.facts["iot_alerts"] = rules.evaluate_batch(session, observations)  # the rules see the readings as if streamed
    except Unavailable as exc:
        # The registry is the demo's substance; readings can be streamed later, so say why and go on.
        log.warning("demo sensor readings skipped: %s", exc.detail)
    ctx.facts["iot_things"], ctx.facts["iot_observations"] = report.things, stored
    ctx.progress("observations", stored, observations.num_rows)


DEMO_STEPS = [
    DemoStep("iot", load_sensors, depends_on=("departments",),
             description="sensor network: 300 / 10,000 things in nine districts and 6 / 12 hours of readings"),
]
