"""API shapes of the traffic area."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from xingcheng.core.schemas import Page, Schema

KEY_PATTERN = r"^[A-Za-z0-9_.:#\-]{1,64}$"
PlanStatus = Literal["proposed", "scheduled", "active", "superseded", "rejected"]


class NetworkRead(Schema):
    key: str
    name: str
    source: str
    intersections: int
    links: int
    detectors: int


class NetworkImportReport(Schema):
    network: str
    intersections: int
    links: int
    detectors: int
    datastreams: int
    arterials: int


class PhaseIn(Schema):
    state: str = Field(pattern=r"^[GgyYrRuoOs]{1,256}$", description="one signal character per controlled link")
    duration: float = Field(gt=0, le=300, description="seconds")


class PlanRead(Schema):
    id: int
    intersection: str
    version: int
    phases: list[PhaseIn]
    cycle_s: float
    offset_s: float
    status: PlanStatus
    source: str
    effective_at: datetime
    flow_ratio_sum: float | None
    created_by: str
    problems: list[str]


class PlanCreate(Schema):
    """A manual plan (traffic engineer): validated, then scheduled from ``effective_at``."""

    phases: list[PhaseIn] = Field(min_length=2, max_length=16)
    offset_s: float = Field(default=0, ge=0, le=300)
    effective_at: datetime | None = None


class IntersectionRead(Schema):
    key: str
    name: str
    division_code: str | None
    lon: float
    lat: float
    controller: str
    links: int
    detectors: int
    active_plan: PlanRead | None


class IntersectionPage(Page[IntersectionRead]):
    pass


class PlanPage(Page[PlanRead]):
    pass


class DetectorReading(Schema):
    thing_key: str = Field(pattern=KEY_PATTERN)
    count: float = Field(ge=0, le=10_000, description="vehicles in the interval")
    occupancy: float = Field(ge=0, le=1)
    speed_kmh: float = Field(ge=0, le=200)


class IntervalIn(Schema):
    """One interval of detector data for a network (typically 15 minutes)."""

    interval_start: datetime
    interval_s: int = Field(default=900, ge=60, le=3600)
    readings: list[DetectorReading] = Field(min_length=1, max_length=50_000)


class IntervalReport(Schema):
    interval_start: datetime
    links: int
    readings_used: int
    unknown_detectors: list[str]
    city_tpi: float
    city_level: int
    incidents: int


class LinkStateRead(Schema):
    link: str
    name: str
    road_class: str
    division_code: str | None
    flow_vph: float
    speed_kmh: float
    occupancy: float
    travel_time_s: float
    tpi: float
    level: int
    level_label: str
    shape: list[list[float]]


class AreaIndexRead(Schema):
    area_code: str
    interval_start: datetime
    tpi: float
    level: int
    level_label: str
    speed_kmh: float
    congested_share: float


class CityIndexCompare(Schema):
    now: AreaIndexRead | None
    last_week: AreaIndexRead | None
    change_pct: float | None


class IncidentRead(Schema):
    id: int
    link: str
    name: str
    interval_start: datetime
    kind: str
    speed_before_kmh: float
    speed_kmh: float
    occupancy_before: float
    occupancy: float
    status: str
    alert_id: int | None


class IncidentPage(Page[IncidentRead]):
    pass


class RetimeRequest(Schema):
    at: datetime | None = Field(default=None, description="interval end; plans take effect here (default: now)")
    coordinate: bool = True


class RetimeReport(Schema):
    network: str
    interval_start: datetime | None
    effective_at: datetime
    retimed: int
    rejected: int
    unchanged: int
    coordinated_groups: int
    seconds: float


class ApplyReport(Schema):
    applied: int
    failed: list[str]
