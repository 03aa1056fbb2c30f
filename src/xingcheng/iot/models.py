"""The sensor registry, modelled on OGC SensorThings: Thing, Sensor, ObservedProperty, Datastream.

Observations themselves live in the ``ObservationStore`` (DuckDB or PostgreSQL), keyed by the
datastream's integer id; the relational database holds only what describes them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xingcheng.core.db import Base, TimestampMixin


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
