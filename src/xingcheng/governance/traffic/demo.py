"""Demo step ``traffic``: the 五一大道 corridor, eight days of its detector data, an incident, a retiming.

The corridor network (``data/wuyi_corridor.net.xml``, built by ``corridor.py``) is imported as
the platform would import any SUMO network: 12 signalised intersections with their programs as
plan v1, every road, one detector per approach lane registered as an IoT thing. Detector readings
follow a two-peak weekday rhythm (Beijing time) with a little day-to-day variation; link states
and district/city indices are computed from them by the same code as live data, hourly over the
last eight days (so the cockpit compares with the same time last week). The last two 15-minute
intervals go through the public ``process_interval`` — the second has a sudden slowdown on one
link of 五一大道, which opens an incident and an IoT alert. Finally the whole corridor is retimed
from that interval and the plans are applied (all audited). The city-scale network is generated
by ``bench/traffic.py``, not here. Everything is drawn from ``ctx.rng("traffic")``.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from xingcheng.core.auth import SYSTEM
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.governance.traffic import corridor, planning, service
from xingcheng.governance.traffic import state as traffic_state
from xingcheng.governance.traffic.models import AreaIndex, Detector, LinkState, RoadLink

NETWORK_KEY = "wuyi-corridor"
NETWORK_NAME = "五一大道走廊（湘江中路—车站北路）"
# The demo's "now": 18:00 Beijing time on the as-of day, in the evening peak.
DEMO_NOW = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)
RECORDED_AT = datetime(2026, 6, 30, tzinfo=UTC)
HISTORY_DAYS = 8
LANE_CAPACITY_VPH = 650.0  # per approach lane at a signal (about half of saturation flow)
EFFECTIVE_VEHICLE_M = 7.0


def _profile(hour_beijing: float) -> float:
    """Demand as a share of capacity by time of day: morning and evening peaks over a daytime base."""
    morning = math.exp(-(((hour_beijing - 8.0) / 1.3) ** 2))
    evening = 0.95 * math.exp(-(((hour_beijing - 18.0) / 1.6) ** 2))
    daytime = 0.45 if 7 <= hour_beijing <= 21 else 0.12
    return daytime + 0.6 * (morning + evening)


def _readings(detectors: list[tuple[str, float, float]], moment: datetime, rng: random.Random, day_factor: float,
              slow: dict[str, float] | None = None) -> list[tuple[str, float, float, float]]:
    """(thing_key, count, occupancy, speed) per detector for the 15 minutes starting at ``moment``."""
    hour = (moment.hour + 8 + moment.minute / 60.0) % 24
    out: list[tuple[str, float, float, float]] = []
    for thing_key, weight, limit in detectors:
        ratio = _profile(hour) * weight * day_factor * (0.92 + 0.16 * rng.random())
        flow = LANE_CAPACITY_VPH * min(ratio, 1.15)
        speed = limit * 0.78 / (1.0 + 1.1 * ratio ** 4)
        if slow and thing_key in slow:
            speed *= 0.3
        occupancy = min(0.95, flow / max(speed, 1.0) * EFFECTIVE_VEHICLE_M / 1000.0)
        out.append((thing_key, float(round(flow / 4.0)), round(occupancy, 3), round(speed, 1)))
    return out


def load_traffic(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("traffic")
    service.import_network(session, path=corridor.NETWORK, key=NETWORK_KEY, name=NETWORK_NAME,
                           recorded_at=RECORDED_AT)
    network = service.get_network_or_raise(session, key=NETWORK_KEY)
    links = list(session.scalars(select(RoadLink).where(RoadLink.network_id == network.id).order_by(RoadLink.id)))
    position = {link.id: i for i, link in enumerate(links)}
    rows = session.execute(select(Detector.thing_key, Detector.link_id).join(RoadLink, Detector.link_id == RoadLink.id)
                           .where(RoadLink.network_id == network.id).order_by(Detector.id)).all()
    by_link = {link.id: link for link in links}
    # 五一大道 carries more than the cross streets; minor streets less.
    detectors = [(key, 1.0 if by_link[link_id].name == corridor.MAIN else 0.55 + 0.4 * rng.random(),
                  by_link[link_id].speed_limit_kmh) for key, link_id in rows]
    detector_link = np.array([position[link_id] for _key, link_id in rows], dtype=np.int64)
    table = service._link_table(links)
    state_rows: list[dict[str, Any]] = []
    area_rows: list[dict[str, Any]] = []
    first = DEMO_NOW - timedelta(days=HISTORY_DAYS) + timedelta(hours=1)
    moment = first
    day_factors = {day: 0.9 + 0.2 * rng.random() for day in range(HISTORY_DAYS + 1)}
    while moment < DEMO_NOW - timedelta(minutes=15):
        day = (moment - first).days
        readings = _readings(detectors, moment, rng, day_factors[day])
        states = traffic_state.compute_state(table, detector_link, np.array([r[1] for r in readings], dtype=float),
                                             np.array([r[2] for r in readings]), np.array([r[3] for r in readings]),
                                             900.0)
        if DEMO_NOW - moment <= timedelta(hours=24):
            state_rows += [{"link_id": link.id, "interval_start": moment, "flow_vph": round(float(f), 1),
                            "speed_kmh": round(float(v), 1), "occupancy": round(float(o), 3),
                            "travel_time_s": round(float(t), 1), "tpi": round(float(i), 2), "level": int(lv)}
                           for link, f, v, o, t, i, lv in zip(links, states.flow_vph, states.speed_kmh,
                                                              states.occupancy, states.travel_time_s, states.tpi,
                                                              states.level, strict=True)]
        areas = traffic_state.area_index(table, states)
        area_rows += [{"area_code": code, "interval_start": moment, "tpi": round(float(t), 2), "level": int(lv),
                       "speed_kmh": round(float(v), 1), "congested_share": round(float(c), 4)}
                      for code, t, lv, v, c in zip(areas.codes, areas.tpi, areas.level, areas.speed_kmh,
                                                   areas.congested_share, strict=True) if code != service.CITY_CODE]
        tpi, level, speed, share = traffic_state.city_index(table, states)
        area_rows.append({"area_code": service.CITY_CODE, "interval_start": moment, "tpi": round(tpi, 2),
                          "level": level, "speed_kmh": round(speed, 1), "congested_share": round(share, 4)})
        moment += timedelta(hours=1)
    session.execute(insert(service._table(LinkState)), state_rows)
    session.execute(insert(service._table(AreaIndex)), area_rows)
    # The last two quarter-hours through the public path; the second has an incident on 五一大道.
    main_links = [link for link in links if link.name == corridor.MAIN]
    blocked = main_links[len(main_links) // 2] if main_links else links[0]
    slow = {key: 1.0 for key, link_id in rows if link_id == blocked.id}
    for offset, incident in ((timedelta(minutes=15), None), (timedelta(0), slow)):
        start = DEMO_NOW - offset
        service.process_interval(session, network_key=NETWORK_KEY, interval_start=start, interval_s=900,
                                 readings=_readings(detectors, start, rng, day_factors[HISTORY_DAYS], incident))
    planning.retime_network(session, network_key=NETWORK_KEY, at=DEMO_NOW, actor=SYSTEM)
    planning.apply_due_plans(session, now=DEMO_NOW + timedelta(minutes=15), actor=SYSTEM)


DEMO_STEPS = [
    DemoStep("traffic", load_traffic, depends_on=("iot",),
             description="五一大道 corridor: 12 signals, detectors as IoT things, 8 days of traffic state, a retiming"),
]
