"""The road network the traffic brain works on: intersections with versioned signal plans, links,
detectors (each an IoT thing with datastreams), traffic state per link and interval, area indices,
and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin, UtcDateTime


class RoadNetwork(TimestampMixin, Base):
    """A network imported from a SUMO ``.net.xml`` (the platform and the simulator share it)."""

    __tablename__ = "traffic_network"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # slug, e.g. wuyi-corridor
    name: Mapped[str] = mapped_column(String(128))  # zh-CN
    source: Mapped[str] = mapped_column(String(256))  # file name it was imported from
    geo: Mapped[bool] = mapped_column(default=False)  # the file itself was geo-referenced
    # Roads between neighbouring signals (for green waves): [{upstream, upstream_phase, downstream,
    # downstream_lanes, travel_time}] as ``signals.ArterialCandidate``.
    arterials: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Intersection(TimestampMixin, Base):
    """A signalised junction (one signal controller); ``link_lanes[i]`` is link ``i``'s approach lane."""

    __tablename__ = "traffic_intersection"
    __table_args__ = (UniqueConstraint("network_id", "key", name="uq_traffic_intersection_network_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("traffic_network.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the controller id (SUMO tlLogic id)
    name: Mapped[str] = mapped_column(String(128), default="")
    division_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"), default=None)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    link_lanes: Mapped[list[Any]] = mapped_column(JSON)  # lane id or null per controlled link
    crossing_lengths: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # link index -> m
    controller: Mapped[str] = mapped_column(String(32), default="sumo")  # adapter kind
    coordinated: Mapped[bool] = mapped_column(default=True)


class SignalPlan(TimestampMixin, Base):
    """One version of an intersection's timing. ``status``: proposed → scheduled → active →
    superseded (or rejected when validation fails). ``phases`` = [{state, duration}]."""

    __tablename__ = "traffic_signal_plan"
    __table_args__ = (
        UniqueConstraint("intersection_id", "version", name="uq_traffic_signal_plan_version"),
        Index("ix_traffic_signal_plan_status_effective", "status", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    intersection_id: Mapped[int] = mapped_column(ForeignKey("traffic_intersection.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    phases: Mapped[list[Any]] = mapped_column(JSON)
    cycle_s: Mapped[float] = mapped_column(Float)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # imported | retimed | manual
    effective_at: Mapped[datetime] = mapped_column(UtcDateTime())
    flow_ratio_sum: Mapped[float | None] = mapped_column(Float, default=None)  # Webster's Y
    created_by: Mapped[str] = mapped_column(String(64))
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)  # validation findings


class RoadLink(TimestampMixin, Base):
    """A directed road segment (SUMO edge)."""

    __tablename__ = "traffic_link"
    __table_args__ = (UniqueConstraint("network_id", "key", name="uq_traffic_link_network_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("traffic_network.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    road_class: Mapped[str] = mapped_column(String(16))  # expressway | arterial | collector (GB/T 33171)
    division_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"), default=None, index=True)
    length_m: Mapped[float] = mapped_column(Float)
    lanes: Mapped[int] = mapped_column(Integer)
    speed_limit_kmh: Mapped[float] = mapped_column(Float)
    free_flow_time_s: Mapped[float] = mapped_column(Float)
    to_intersection_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_intersection.id", ondelete="SET NULL"), default=None)
    shape: Mapped[list[Any]] = mapped_column(JSON)  # [[lon, lat], ...]


class Detector(TimestampMixin, Base):
    """A loop/video/radar detector on one approach lane; its data are IoT datastreams
    ``<thing_key>/traffic_count|traffic_occupancy|traffic_speed``."""

    __tablename__ = "traffic_detector"

    id: Mapped[int] = mapped_column(primary_key=True)
    thing_key: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("traffic_link.id", ondelete="CASCADE"), index=True)
    intersection_id: Mapped[int | None] = mapped_column(
        ForeignKey("traffic_intersection.id", ondelete="CASCADE"), default=None, index=True)
    lane: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8))  # loop | video | radar
    position_m: Mapped[float] = mapped_column(Float)  # from the lane start
    # The last interval's reading (what the 15-minute retiming reads).
    last_interval_start: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_count: Mapped[float | None] = mapped_column(Float, default=None)  # vehicles in the interval
    last_occupancy: Mapped[float | None] = mapped_column(Float, default=None)
    last_speed_kmh: Mapped[float | None] = mapped_column(Float, default=None)


class LinkState(Base):
    """Traffic state of one link for one interval, graded per GB/T 33171-2016."""

    __tablename__ = "traffic_link_state"
    __table_args__ = (
        UniqueConstraint("link_id", "interval_start", name="uq_traffic_link_state_interval"),
        Index("ix_traffic_link_state_interval", "interval_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("traffic_link.id", ondelete="CASCADE"))
    interval_start: Mapped[datetime] = mapped_column(UtcDateTime())
    flow_vph: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    occupancy: Mapped[float] = mapped_column(Float)  # 0..1
    travel_time_s: Mapped[float] = mapped_column(Float)
    tpi: Mapped[float] = mapped_column(Float)  # 0..10
    level: Mapped[int] = mapped_column(Integer)  # 1 畅通 … 5 严重拥堵


class AreaIndex(Base):
    """The traffic performance index of a district (GB/T 2260 code) or the city for an interval."""

    __tablename__ = "traffic_area_index"
    __table_args__ = (UniqueConstraint("area_code", "interval_start", name="uq_traffic_area_index_interval"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_code: Mapped[str] = mapped_column(String(6))  # 430100 = city
    interval_start: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    tpi: Mapped[float] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer)
    speed_kmh: Mapped[float] = mapped_column(Float)  # VKT-weighted mean speed
    congested_share: Mapped[float] = mapped_column(Float)  # share of VKT at level ≥ 4


class Incident(TimestampMixin, Base):
    """A detected incident: sudden speed drop or occupancy jump on a link."""

    __tablename__ = "traffic_incident"
    __table_args__ = (UniqueConstraint("link_id", "interval_start", "kind", name="uq_traffic_incident_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("traffic_link.id", ondelete="CASCADE"), index=True)
    interval_start: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(16))  # speed_drop | occupancy_jump
    speed_before_kmh: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float)
    occupancy_before: Mapped[float] = mapped_column(Float)
    occupancy: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    alert_id: Mapped[int | None] = mapped_column(Integer, default=None)  # iot alert, when raised there
