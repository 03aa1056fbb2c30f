"""The built-in catalogue: thing kinds, their sensors and observed properties (UCUM units, valid ranges)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.db import utcnow
from xingcheng.iot.models import ObservedProperty, Sensor

# Longitude/latitude box around Changsha's 11,819 km²: coordinates outside it are typos, not sensors.
CITY_BOUNDS = (111.85, 27.85, 114.25, 28.70)  # min lon, min lat, max lon, max lat


@dataclass(frozen=True)
class PropertySpec:
    name: str
    label: str
    definition: str
    unit: str
    min: float
    max: float
    value_type: str


@dataclass(frozen=True)
class KindSpec:
    name: str
    label: str
    department: str
    interval: int
    sensor: str
    properties: tuple[str, ...]
    share: float


@lru_cache(maxsize=1)
def raw_catalogue() -> dict[str, Any]:
    text = resources.files("xingcheng.iot").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))


@lru_cache(maxsize=1)
def properties() -> dict[str, PropertySpec]:
    return {name: PropertySpec(name=name, **spec) for name, spec in raw_catalogue()["properties"].items()}


@lru_cache(maxsize=1)
def kinds() -> dict[str, KindSpec]:
    return {
        name: KindSpec(name=name, **{**spec, "properties": tuple(spec["properties"])})
        for name, spec in raw_catalogue()["kinds"].items()
    }


def sensor_key(kind: str) -> str:
    return f"sensor-{kind}"


def ensure_catalogue(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """Register the catalogue's observed properties and sensors once; their ids by property and by kind."""
    now = utcnow()
    known_properties = dict(session.execute(select(ObservedProperty.name, ObservedProperty.id)).all())
    missing = [
        {"name": p.name, "label": p.label, "definition": p.definition, "unit": p.unit, "created_at": now, "updated_at": now}
        for p in properties().values() if p.name not in known_properties
    ]
    if missing:
        session.execute(insert(cast(Table, ObservedProperty.__table__)), missing)
    known_sensors = dict(session.execute(select(Sensor.key, Sensor.id)).all())
    missing = [
        {"key": sensor_key(k.name), "name": k.sensor, "description": f"{k.label}传感器", "encoding_type": "text/plain",
         "created_at": now, "updated_at": now}
        for k in kinds().values() if sensor_key(k.name) not in known_sensors
    ]
    if missing:
        session.execute(insert(cast(Table, Sensor.__table__)), missing)
    property_ids = dict(session.execute(select(ObservedProperty.name, ObservedProperty.id)).all())
    sensor_ids = dict(session.execute(select(Sensor.key, Sensor.id)).all())
    return property_ids, {k: sensor_ids[sensor_key(k)] for k in kinds()}
