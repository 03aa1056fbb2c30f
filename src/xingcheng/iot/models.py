"""The sensor registry, modelled on OGC SensorThings: Thing, Sensor, ObservedProperty, Datastream.

Observations themselves live in the ``ObservationStore`` (DuckDB or PostgreSQL), keyed by the
datastream's integer id; the relational database holds only what describes them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin, UtcDateTime, utcnow


class Thing(TimestampMixin, Base):
    """A device in the field (a station, a manhole cover, a bridge), with its location (SensorThings Thing + Location)."""

    __tablename__ = "iot_thing"
    __table_args__ = (Index("ix_iot_thing_kind_division", "kind", "division_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # what devices and files name it by
    name: Mapped[str] = mapped_column(String(128))  # zh-CN
    kind: Mapped[str] = mapped_column(String(32))  # air_quality_station | noise_meter | … (catalogue.json)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), index=True)  # owner
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    lon: Mapped[float] = mapped_column(Float)  # WGS84
    lat: Mapped[float] = mapped_column(Float)
    install_date: Mapped[date | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | maintenance | retired


class Sensor(TimestampMixin, Base):
    """The instrument type that produces a datastream's observations (SensorThings Sensor)."""

    __tablename__ = "iot_sensor"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(256), default="")
    encoding_type: Mapped[str] = mapped_column(String(64), default="text/plain")


class ObservedProperty(TimestampMixin, Base):
    """What is measured, e.g. ``pm25`` with its definition URI and UCUM unit."""

    __tablename__ = "iot_observed_property"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the property part of a datastream key
    label: Mapped[str] = mapped_column(String(64))  # zh-CN
    definition: Mapped[str] = mapped_column(String(256))
    unit: Mapped[str] = mapped_column(String(32))  # UCUM code


class Datastream(TimestampMixin, Base):
    """One property observed by one thing: ``thing_key/property``; what ingest validates against."""

    __tablename__ = "iot_datastream"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(130), unique=True)  # thing_key/property
    thing_id: Mapped[int] = mapped_column(ForeignKey("iot_thing.id", ondelete="CASCADE"), index=True)
    sensor_id: Mapped[int | None] = mapped_column(ForeignKey("iot_sensor.id"), default=None)
    observed_property_id: Mapped[int] = mapped_column(ForeignKey("iot_observed_property.id"), index=True)
    unit: Mapped[str] = mapped_column(String(32))  # UCUM
    expected_interval_s: Mapped[int] = mapped_column(Integer)
    valid_min: Mapped[float | None] = mapped_column(Float, default=None)
    valid_max: Mapped[float | None] = mapped_column(Float, default=None)
    value_type: Mapped[str] = mapped_column(String(8), default="float")  # float | int | bool


class AlertRule(TimestampMixin, Base):
    """A rule evaluated on ingest over the datastreams it selects (property, and optionally kind/area/thing).

    ``params`` depend on ``kind`` (validated in ``iot.rules``): threshold (with a clear level for
    hysteresis), sustained-for-duration, rate of rise, flatline, silent sensor, and a combination of
    conditions over several properties of the same thing.
    """

    __tablename__ = "iot_alert_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))  # zh-CN, becomes the alert's title
    kind: Mapped[str] = mapped_column(String(16))  # threshold | sustained | rate_of_rise | flatline | silent | combination
    severity: Mapped[str] = mapped_column(String(16), default="warning")  # info | warning | critical
    property: Mapped[str] = mapped_column(String(64))  # observed property the rule watches (first one for combinations)
    thing_kind: Mapped[str | None] = mapped_column(String(32), default=None)
    division_code: Mapped[str | None] = mapped_column(String(6), default=None)
    thing_key: Mapped[str | None] = mapped_column(String(64), default=None)
    department_code: Mapped[str | None] = mapped_column(String(32), default=None)  # who handles; default the thing's owner
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)


class AlertRuleState(Base):
    """What streaming evaluation remembers between batches for one rule on one datastream (or thing)."""

    __tablename__ = "iot_alert_rule_state"

    rule_id: Mapped[int] = mapped_column(ForeignKey("iot_alert_rule.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(130), primary_key=True)  # datastream key, or thing key for combinations
    active: Mapped[bool] = mapped_column(default=False)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)


class Alert(TimestampMixin, Base):
    """One alert: open → acknowledged → resolved → closed; one open alert per ``dedup_key``.

    Raised by rules on ingest or by any module through ``iot.alerts.raise_alert`` (governance
    packages do); timestamps make response time measurable.
    """

    __tablename__ = "iot_alert"
    __table_args__ = (
        # At most one live alert per dedup key: a repeat raises the count instead of a second alert.
        Index("uq_iot_alert_live_dedup", "dedup_key", unique=True,
              sqlite_where=text("status IN ('open', 'acknowledged')"),
              postgresql_where=text("status IN ('open', 'acknowledged')")),
        Index("ix_iot_alert_status_opened", "status", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))  # iot.rule | traffic | … (the raising module)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("iot_alert_rule.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))  # zh-CN
    thing_key: Mapped[str | None] = mapped_column(String(64), default=None)
    datastream_key: Mapped[str | None] = mapped_column(String(130), default=None)
    division_code: Mapped[str | None] = mapped_column(String(6), default=None, index=True)
    department_code: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    lon: Mapped[float | None] = mapped_column(Float, default=None)
    lat: Mapped[float | None] = mapped_column(Float, default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")
    value: Mapped[float | None] = mapped_column(Float, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))  # when the condition began (phenomenon time)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
