"""The road network in the platform: import from SUMO, detectors as IoT things, traffic state
per interval (GB/T 33171-2016 grading, area and city index), incidents as IoT alerts, reads."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Invalid, NotFound
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries import spatial
from xingcheng.governance.traffic import state as traffic_state
from xingcheng.governance.traffic.models import (
    AreaIndex,
    Detector,
    Incident,
    Intersection,
    LinkState,
    RoadLink,
    RoadNetwork,
    SignalPlan,
)
from xingcheng.governance.traffic.schemas import NetworkImportReport
from xingcheng.governance.traffic.sumo import read_network
from xingcheng.iot import alerts as iot_alerts
from xingcheng.iot import importer as iot_importer
from xingcheng.iot.schemas import AlertRaise

CITY_CODE = "430100"
DEFAULT_ORIGIN = (112.9770, 28.1960)  # 五一广场: where a network without geo-reference is placed
DETECTOR_KIND = "traffic_detector"  # the IoT catalogue kind (vehicle_flow, avg_speed datastreams)
M_PER_DEG_LAT = 110_900.0


def _placer(geo: bool, origin: tuple[float, float]) -> Any:
    if geo:
        return lambda x, y: (x, y)
    per_lon = M_PER_DEG_LAT * math.cos(math.radians(origin[1]))
    return lambda x, y: (round(origin[0] + x / per_lon, 6), round(origin[1] + y / M_PER_DEG_LAT, 6))


def _district(lon: float, lat: float) -> str | None:
    return spatial.division_at(lon, lat)


def get_network_or_raise(session: Session, *, key: str) -> RoadNetwork:
    network = session.scalar(select(RoadNetwork).where(RoadNetwork.key == key))
    if network is None:
        raise NotFound(f"no road network '{key}'")
    return network


def import_network(session: Session, *, path: Path, key: str, name: str, actor: Principal = SYSTEM,
                   origin: tuple[float, float] = DEFAULT_ORIGIN, detector_kind: str = "loop",
                   recorded_at: datetime | None = None) -> NetworkImportReport:
    """Store a SUMO network: intersections with their programs as plan v1 (active), links,
    one detector per approach lane registered as an IoT thing with its datastreams."""
    if session.scalar(select(RoadNetwork.id).where(RoadNetwork.key == key)) is not None:
        raise Conflict(f"road network '{key}' is already imported")
    model = read_network(path)
    place = _placer(model.geo, origin)
    now = recorded_at or utcnow()
    network = RoadNetwork(key=key, name=name, source=path.name, geo=model.geo,
                          arterials=[asdict(candidate) | {"downstream_lanes": list(candidate.downstream_lanes)}
                                     for candidate in model.arterials])
    session.add(network)
    session.flush()
    intersections: dict[str, Intersection] = {}
    for junction in model.junctions:
        lon, lat = place(*model.junction_positions.get(junction.key, (0.0, 0.0)))
        intersection = Intersection(
            network_id=network.id, key=junction.key, name=model.junction_names.get(junction.key, junction.key)[:128],
            division_code=_district(lon, lat), lon=lon, lat=lat, link_lanes=list(junction.link_lanes),
            crossing_lengths={str(k): v for k, v in junction.crossing_lengths.items()},
        )
        session.add(intersection)
        intersections[junction.key] = intersection
    session.flush()
    for junction in model.junctions:
        session.add(SignalPlan(
            intersection_id=intersections[junction.key].id, version=1, status="active", source="imported",
            phases=[{"state": p.state, "duration": p.duration} for p in junction.phases],
            cycle_s=junction.cycle, offset_s=junction.offset, effective_at=now, created_by=actor.name,
        ))
    lane_junction = {lane: junction.key for junction in model.junctions for lane in junction.link_lanes if lane}
    edge_junction = {model.approach_lanes[lane].edge: key for lane, key in lane_junction.items()}
    links: dict[str, RoadLink] = {}
    for road in model.links:
        shape = [list(place(x, y)) for x, y in road.shape]
        middle = shape[len(shape) // 2]
        to_junction = intersections.get(edge_junction.get(road.id, ""))
        link = RoadLink(
            network_id=network.id, key=road.id[:64], name=road.name[:128],
            road_class=traffic_state.road_class(road.speed * 3.6, road.lanes),
            division_code=_district(middle[0], middle[1]), length_m=round(road.length, 1), lanes=road.lanes,
            speed_limit_kmh=round(road.speed * 3.6, 1), free_flow_time_s=round(road.length / max(road.speed, 0.1), 1),
            to_intersection_id=to_junction.id if to_junction else None, shape=shape,
        )
        session.add(link)
        links[road.id] = link
    session.flush()
    rows: list[dict[str, Any]] = []
    things: list[dict[str, Any]] = []
    for index, (lane, junction_key) in enumerate(sorted(lane_junction.items())):
        info = model.approach_lanes[lane]
        approach_link = links.get(info.edge)
        if approach_link is None:
            continue
        thing_key = f"tdx-{network.id}-{index:05d}"
        shape = approach_link.shape
        lon, lat = (shape[-1][0], shape[-1][1]) if shape else (origin[0], origin[1])
        rows.append({"thing_key": thing_key, "link_id": approach_link.id, "intersection_id": intersections[junction_key].id,
                     "lane": lane[:80], "kind": detector_kind, "position_m": round(max(info.length - 1.5, 0.1), 1),
                     "created_at": now, "updated_at": now})
        things.append({"key": thing_key, "name": f"{intersections[junction_key].name or junction_key} 进口道 {lane}"[:128],
                       "kind": DETECTOR_KIND, "division_code": intersections[junction_key].division_code or CITY_CODE,
                       "lon": lon, "lat": lat})
    if rows:
        session.execute(insert(_table(Detector)), rows)
    datastreams = 0
    if things:
        report = iot_importer.import_things(session, table=pa.Table.from_pylist(things), actor=actor, recorded_at=now)
        datastreams = report.datastreams
    audit.record(session, actor=actor, action="traffic.network.import", subject=f"traffic_network:{key}",
                 details={"source": path.name, "intersections": len(intersections), "links": len(links),
                          "detectors": len(rows)})
    return NetworkImportReport(network=key, intersections=len(intersections), links=len(links), detectors=len(rows),
                               datastreams=datastreams, arterials=len(model.arterials))


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def list_networks(session: Session) -> list[dict[str, Any]]:
    out = []
    for network in session.scalars(select(RoadNetwork).order_by(RoadNetwork.id)):
        intersections = int(session.scalar(select(func.count()).select_from(Intersection).where(
            Intersection.network_id == network.id)) or 0)
        links = int(session.scalar(select(func.count()).select_from(RoadLink).where(
            RoadLink.network_id == network.id)) or 0)
        detectors = int(session.scalar(select(func.count()).select_from(Detector).join(
            RoadLink, Detector.link_id == RoadLink.id).where(RoadLink.network_id == network.id)) or 0)
        out.append({"key": network.key, "name": network.name, "source": network.source,
                    "intersections": intersections, "links": links, "detectors": detectors})
    return out


# ---------------------------------------------------------------- traffic state per interval

def _link_table(links: list[RoadLink]) -> traffic_state.LinkTable:
    return traffic_state.LinkTable.build(
        [link.length_m for link in links], [link.speed_limit_kmh for link in links],
        [link.road_class for link in links], [link.division_code or CITY_CODE for link in links])


def process_interval(session: Session, *, network_key: str, interval_start: datetime, interval_s: int,
                     readings: list[tuple[str, float, float, float]], actor: Principal = SYSTEM) -> dict[str, Any]:
    """One interval of detector data -> link states, district and city indices, incidents.

    ``readings`` are ``(thing_key, count, occupancy, speed_kmh)``; unknown detectors are reported
    and skipped. Re-sending an interval replaces its states (idempotent).
    """
    network = get_network_or_raise(session, key=network_key)
    links = list(session.scalars(select(RoadLink).where(RoadLink.network_id == network.id).order_by(RoadLink.id)))
    if not links:
        raise Invalid(f"road network '{network_key}' has no links")
    link_position = {link.id: i for i, link in enumerate(links)}
    detectors = {d.thing_key: d for d in session.scalars(
        select(Detector).join(RoadLink, Detector.link_id == RoadLink.id).where(RoadLink.network_id == network.id))}
    used = [(detectors[key], c, o, v) for key, c, o, v in readings if key in detectors]
    unknown = sorted({key for key, *_rest in readings if key not in detectors})
    if not used:
        raise Invalid("none of the readings names a detector of this network")
    table = _link_table(links)
    current = traffic_state.compute_state(
        table, np.array([link_position[d.link_id] for d, *_ in used], dtype=np.int64),
        np.array([c for _d, c, _o, _v in used]), np.array([o for *_x, o, _v in used]),
        np.array([v for *_x, v in used]), float(interval_s))
    for detector, count, occupancy, speed in used:
        detector.last_interval_start, detector.last_count = interval_start, count
        detector.last_occupancy, detector.last_speed_kmh = occupancy, speed
    previous = _previous_states(session, links, interval_start - timedelta(seconds=interval_s))
    _store_states(session, links, table, current, interval_start)
    incidents = 0
    if previous is not None:
        drops, jumps = traffic_state.detect_incidents(previous, current)
        for kind, positions in (("speed_drop", drops), ("occupancy_jump", jumps)):
            for position in positions.tolist():
                incidents += _open_incident(session, links[position], kind, interval_start, previous, current,
                                            position, actor)
    tpi, level, _speed, _share = traffic_state.city_index(table, current)
    audit.record(session, actor=actor, action="traffic.interval.process", subject=f"traffic_network:{network_key}",
                 details={"interval_start": interval_start.isoformat(), "readings": len(used), "incidents": incidents})
    return {"interval_start": interval_start, "links": len(links), "readings_used": len(used),
            "unknown_detectors": unknown[:100], "city_tpi": round(tpi, 2), "city_level": level, "incidents": incidents}


def _previous_states(session: Session, links: list[RoadLink], start: datetime) -> traffic_state.LinkStates | None:
    rows = {row.link_id: row for row in session.scalars(select(LinkState).where(
        LinkState.interval_start == start, LinkState.link_id.in_([link.id for link in links])))}
    if not rows:
        return None
    def column(name: str, default: float) -> np.ndarray:
        return np.array([getattr(rows[link.id], name) if link.id in rows else default for link in links])
    return traffic_state.LinkStates(
        flow_vph=column("flow_vph", 0.0), speed_kmh=column("speed_kmh", 0.0), occupancy=column("occupancy", 1.0),
        travel_time_s=column("travel_time_s", 0.0), tpi=column("tpi", 0.0),
        level=column("level", 1).astype(np.int64))


def _store_states(session: Session, links: list[RoadLink], table: traffic_state.LinkTable,
                  states: traffic_state.LinkStates, interval_start: datetime) -> None:
    ids = [link.id for link in links]
    session.execute(_table(LinkState).delete().where(LinkState.interval_start == interval_start,
                                                     LinkState.link_id.in_(ids)))
    session.execute(insert(_table(LinkState)), [
        {"link_id": link_id, "interval_start": interval_start, "flow_vph": round(float(f), 1),
         "speed_kmh": round(float(v), 1), "occupancy": round(float(o), 3), "travel_time_s": round(float(t), 1),
         "tpi": round(float(i), 2), "level": int(lv)}
        for link_id, f, v, o, t, i, lv in zip(ids, states.flow_vph, states.speed_kmh, states.occupancy,
                                              states.travel_time_s, states.tpi, states.level, strict=True)])
    areas = traffic_state.area_index(table, states)
    city = traffic_state.city_index(table, states)
    entries = [(code, float(t), int(lv), float(v), float(c)) for code, t, lv, v, c in zip(
        areas.codes, areas.tpi, areas.level, areas.speed_kmh, areas.congested_share, strict=True) if code != CITY_CODE]
    entries.append((CITY_CODE, *city))
    codes = [code for code, *_ in entries]
    session.execute(_table(AreaIndex).delete().where(AreaIndex.interval_start == interval_start,
                                                     AreaIndex.area_code.in_(codes)))
    session.execute(insert(_table(AreaIndex)), [
        {"area_code": code, "interval_start": interval_start, "tpi": round(t, 2), "level": lv,
         "speed_kmh": round(v, 1), "congested_share": round(c, 4)} for code, t, lv, v, c in entries])


def _open_incident(session: Session, link: RoadLink, kind: str, interval_start: datetime,
                   previous: traffic_state.LinkStates, current: traffic_state.LinkStates, position: int,
                   actor: Principal) -> int:
    exists = session.scalar(select(Incident.id).where(Incident.link_id == link.id, Incident.kind == kind,
                                                      Incident.interval_start == interval_start))
    if exists is not None:
        return 0
    incident = Incident(link_id=link.id, interval_start=interval_start, kind=kind,
                        speed_before_kmh=round(float(previous.speed_kmh[position]), 1),
                        speed_kmh=round(float(current.speed_kmh[position]), 1),
                        occupancy_before=round(float(previous.occupancy[position]), 3),
                        occupancy=round(float(current.occupancy[position]), 3))
    session.add(incident)
    session.flush()
    label = "车速骤降" if kind == "speed_drop" else "占有率突增"
    lon, lat = link.shape[len(link.shape) // 2] if link.shape else (None, None)
    alert, _created = iot_alerts.raise_alert(session, AlertRaise(
        source="traffic", kind=f"traffic_{kind}", severity="warning",
        title=f"疑似交通事件：{link.name or link.key} {label}（{incident.speed_before_kmh:.0f}→{incident.speed_kmh:.0f} km/h）",
        dedup_key=f"traffic:{link.network_id}:{link.key}:{kind}", division_code=link.division_code,
        department_code="jtj", lon=lon, lat=lat, value=incident.speed_kmh, observed_at=interval_start,
        details={"link": link.key, "incident_id": incident.id, "occupancy": incident.occupancy,
                 "occupancy_before": incident.occupancy_before},
    ), actor=actor)
    incident.alert_id = alert.id
    audit.record(session, actor=actor, action="traffic.incident.open", subject=f"traffic_incident:{incident.id}",
                 details={"link": link.key, "kind": kind, "alert_id": alert.id})
    return 1


# ---------------------------------------------------------------- reads

def latest_interval(session: Session, *, network_key: str) -> datetime | None:
    network = get_network_or_raise(session, key=network_key)
    return session.scalar(select(func.max(LinkState.interval_start)).join(RoadLink, LinkState.link_id == RoadLink.id)
                          .where(RoadLink.network_id == network.id))


def link_states(session: Session, *, network_key: str, interval_start: datetime | None = None) -> list[dict[str, Any]]:
    network = get_network_or_raise(session, key=network_key)
    start = interval_start or latest_interval(session, network_key=network_key)
    if start is None:
        return []
    rows = session.execute(select(LinkState, RoadLink).join(RoadLink, LinkState.link_id == RoadLink.id).where(
        RoadLink.network_id == network.id, LinkState.interval_start == start).order_by(RoadLink.id)).all()
    return [{"link": link.key, "name": link.name, "road_class": link.road_class, "division_code": link.division_code,
             "flow_vph": s.flow_vph, "speed_kmh": s.speed_kmh, "occupancy": s.occupancy,
             "travel_time_s": s.travel_time_s, "tpi": s.tpi, "level": s.level,
             "level_label": traffic_state.LEVEL_LABELS[s.level], "shape": link.shape} for s, link in rows]


def _area_read(row: AreaIndex) -> dict[str, Any]:
    return {"area_code": row.area_code, "interval_start": row.interval_start, "tpi": row.tpi, "level": row.level,
            "level_label": traffic_state.LEVEL_LABELS[max(1, min(row.level, 5))], "speed_kmh": row.speed_kmh,
            "congested_share": row.congested_share}


def area_indices(session: Session, *, area_code: str | None = None, start: datetime | None = None,
                 end: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    query = select(AreaIndex).order_by(AreaIndex.interval_start.desc(), AreaIndex.area_code)
    if area_code:
        query = query.where(AreaIndex.area_code == area_code)
    if start:
        query = query.where(AreaIndex.interval_start >= start)
    if end:
        query = query.where(AreaIndex.interval_start < end)
    return [_area_read(row) for row in session.scalars(query.limit(limit))]


def city_index_compare(session: Session, *, at: datetime | None = None) -> dict[str, Any]:
    """The latest city index (at or before ``at``) and the one at the same time a week earlier."""
    query = select(AreaIndex).where(AreaIndex.area_code == CITY_CODE)
    if at is not None:
        query = query.where(AreaIndex.interval_start <= at)
    now = session.scalar(query.order_by(AreaIndex.interval_start.desc()).limit(1))
    if now is None:
        return {"now": None, "last_week": None, "change_pct": None}
    last_week = session.scalar(select(AreaIndex).where(
        AreaIndex.area_code == CITY_CODE, AreaIndex.interval_start == now.interval_start - timedelta(days=7)))
    change = None
    if last_week is not None and last_week.tpi > 0:
        change = round((now.tpi - last_week.tpi) / last_week.tpi * 100.0, 1)
    return {"now": _area_read(now), "last_week": _area_read(last_week) if last_week else None, "change_pct": change}


def city_index_now(session: Session) -> str:
    """Cockpit card: city index now and its change against the same time last week."""
    compare = city_index_compare(session)
    if compare["now"] is None:
        return "—"
    text = f"{compare['now']['tpi']:.1f} {compare['now']['level_label']}"
    if compare["change_pct"] is not None:
        text += f"（较上周同期 {compare['change_pct']:+.1f}%）"
    return text


def list_incidents(session: Session, *, page: PageParams, network_key: str | None = None,
                   status: str | None = None) -> tuple[list[dict[str, Any]], int]:
    query = select(Incident, RoadLink).join(RoadLink, Incident.link_id == RoadLink.id)
    if network_key:
        query = query.where(RoadLink.network_id == get_network_or_raise(session, key=network_key).id)
    if status:
        query = query.where(Incident.status == status)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.order_by(Incident.interval_start.desc(), Incident.id.desc())
                           .limit(page.limit).offset(page.offset)).all()
    return [{"id": i.id, "link": link.key, "name": link.name, "interval_start": i.interval_start, "kind": i.kind,
             "speed_before_kmh": i.speed_before_kmh, "speed_kmh": i.speed_kmh, "occupancy_before": i.occupancy_before,
             "occupancy": i.occupancy, "status": i.status, "alert_id": i.alert_id} for i, link in rows], total
