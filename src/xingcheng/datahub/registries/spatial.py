"""Spatial registry (空间地理库): district boundaries, point-in-district lookup, standard addresses, geocoding.

Boundaries: the nine county-level divisions of Changsha from ``data/changsha_districts.geojson``
(WGS84; provenance in ``data/README.md``), read once per process. ``division_at(lon, lat)`` is an
even-odd ray-casting test over each district's rings (holes included), vectorised per ring.

Standard addresses (标准地址): ``district → 街道/镇 (street) → 社区 (community) → road → number``. The
gazetteer of roads and streets is the demo city's (``demo_data``); each road gets a deterministic
anchor point inside its real district boundary and a bearing, and house number *n* lies along that
bearing (odd numbers on one side, even on the other), kept inside the district. The coordinates are
synthetic but consistent: ``address_point`` is a pure function, so ``geocode`` without a database
and the ``registry_address`` table give the same point for the same address.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from xingcheng.datahub.registries import demo_data as data
from xingcheng.datahub.registries.models import StandardAddress

GEOJSON_FILE = Path(__file__).parent / "data" / "changsha_districts.geojson"
CITY_CODE = "430100"
CITY_NAME = "长沙市"
METRES_PER_DEGREE_LAT = 111_320.0
HOUSE_SPACING_M = 9.0  # metres between consecutive house numbers on one side of a road
ROAD_SIDE_OFFSET_M = 18.0  # odd numbers left of the road's axis, even numbers right
# Seats (街道) of the outer districts' urban areas, where their roads are; towns are in demo_data.TOWNS.
SEAT_STREETS: dict[str, tuple[str, ...]] = {
    "430112": ("高塘岭街道", "金山桥街道", "月亮岛街道", "白沙洲街道"),
    "430121": ("星沙街道", "泉塘街道", "湘龙街道", "榔梨街道"),
    "430181": ("淮川街道", "集里街道", "荷花街道", "关口街道"),
    "430182": ("玉潭街道", "白马桥街道", "历经铺街道", "城郊街道"),
}

Ring = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class DistrictShape:
    code: str
    name: str
    center: tuple[float, float]  # lon, lat, inside the district
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
    polygons: tuple[tuple[Ring, ...], ...] = field(repr=False)  # per polygon: outer ring, then holes

    def contains(self, lon: float, lat: float) -> bool:
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            return False
        return any(_in_polygon(rings, lon, lat) for rings in self.polygons)


def _in_ring(ring: Ring, lon: float, lat: float) -> bool:
    x0, y0 = ring[:-1, 0], ring[:-1, 1]
    x1, y1 = ring[1:, 0], ring[1:, 1]
    crosses = (y0 > lat) != (y1 > lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
    return bool(np.count_nonzero(crosses & (lon < x_at)) % 2)


def _in_polygon(rings: tuple[Ring, ...], lon: float, lat: float) -> bool:
    if not _in_ring(rings[0], lon, lat):
        return False
    return not any(_in_ring(hole, lon, lat) for hole in rings[1:])


@cache
def boundaries() -> dict[str, Any]:
    """The GeoJSON FeatureCollection of the nine districts (do not modify: it is shared)."""
    collection: dict[str, Any] = json.loads(GEOJSON_FILE.read_bytes())
    return collection


@cache
def district_shapes() -> tuple[DistrictShape, ...]:
    shapes = []
    for feature in boundaries()["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings = tuple(tuple(np.asarray(ring, dtype=np.float64) for ring in polygon) for polygon in polygons)
        outer = np.concatenate([p[0] for p in rings])
        props = feature["properties"]
        shapes.append(DistrictShape(
            code=props["code"], name=props["name"], center=(float(props["center"][0]), float(props["center"][1])),
            bbox=(float(outer[:, 0].min()), float(outer[:, 1].min()), float(outer[:, 0].max()), float(outer[:, 1].max())),
            polygons=rings,
        ))
    return tuple(shapes)


@cache
def _shape_by_code() -> dict[str, DistrictShape]:
    return {shape.code: shape for shape in district_shapes()}


def district_shape(code: str) -> DistrictShape | None:
    return _shape_by_code().get(code)


def division_at(lon: float, lat: float) -> str | None:
    """The GB/T 2260 code of the Changsha district containing the WGS84 point, or None outside the city."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    for shape in district_shapes():
        if shape.contains(lon, lat):
            return shape.code
    return None


def district_feature(code: str) -> dict[str, Any] | None:
    """One district's GeoJSON Feature (with ``bbox``), or None for a code that is not a district."""
    for feature in boundaries()["features"]:
        if feature["properties"]["code"] == code:
            shape = _shape_by_code()[code]
            return {"type": "Feature", "id": code, "bbox": list(shape.bbox), "properties": dict(feature["properties"]),
                    "geometry": feature["geometry"]}
    return None


def city_bbox() -> tuple[float, float, float, float]:
    boxes = [s.bbox for s in district_shapes()]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


# ---- gazetteer: streets, communities, roads --------------------------------------------------------

@dataclass(frozen=True)
class Road:
    division_code: str
    name: str
    street: str  # 街道 / 镇 the road's numbers belong to
    community: str  # 社区
    index: int  # position in the district's road list (part of the address code)
    anchor: tuple[float, float]  # lon, lat of number 0, inside the district
    bearing: float  # radians, direction of increasing numbers


@dataclass(frozen=True)
class Place:
    division_code: str
    name: str  # a 街道/镇 or a community/locality name
    kind: str  # street | locality
    street: str
    point: tuple[float, float]


def _seeded(*parts: str) -> random.Random:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # deterministic layout, not secrecy


def _point_inside(shape: DistrictShape, rng: random.Random, spread: float) -> tuple[float, float]:
    """A point inside ``shape``, normally distributed around its centre (``spread`` × bbox size)."""
    min_lon, min_lat, max_lon, max_lat = shape.bbox
    for _ in range(200):
        lon = rng.gauss(shape.center[0], spread * (max_lon - min_lon))
        lat = rng.gauss(shape.center[1], spread * (max_lat - min_lat))
        if shape.contains(lon, lat):
            return round(lon, 6), round(lat, 6)
    return shape.center


def _spread(code: str) -> float:
    return 0.12 if code in data.CORE_DISTRICTS else 0.06  # outer districts: roads in the county seat


def _streets_of(code: str) -> tuple[str, ...]:
    return data.SUBDISTRICTS.get(code) or SEAT_STREETS.get(code) or (f"{data.DISTRICTS[code][0]}城区街道",)


@cache
def roads() -> dict[str, tuple[Road, ...]]:
    """Each district's roads, in ``demo_data.STREETS`` order."""
    result: dict[str, tuple[Road, ...]] = {}
    for code, names in data.STREETS.items():
        shape = _shape_by_code()[code]
        streets = _streets_of(code)
        places = data.ESTATE_PLACES[code]
        result[code] = tuple(
            Road(code, name, streets[i % len(streets)], f"{places[i % len(places)]}社区", i,
                 _point_inside(shape, _seeded(code, name), _spread(code)), _seeded(code, name, "bearing").uniform(0, math.tau))
            for i, name in enumerate(names)
        )
    return result


@cache
def places() -> tuple[Place, ...]:
    """Streets (街道/镇) and locality names with a representative point, longest names first."""
    found: list[Place] = []
    for code in data.DISTRICTS:
        shape = _shape_by_code()[code]
        for street in (*_streets_of(code), *data.TOWNS.get(code, ())):
            spread = _spread(code) if street in _streets_of(code) else 0.25
            found.append(Place(code, street, "street", street, _point_inside(shape, _seeded(code, street), spread)))
        for i, locality in enumerate(data.ESTATE_PLACES[code]):
            street = _streets_of(code)[i % len(_streets_of(code))]
            found.append(Place(code, locality, "locality", street,
                               _point_inside(shape, _seeded(code, locality, "locality"), _spread(code))))
    return tuple(sorted(found, key=lambda p: -len(p.name)))


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (lon + east_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat))), lat + north_m / METRES_PER_DEGREE_LAT)


def address_point(road: Road, number: int) -> tuple[float, float]:
    """Where house ``number`` of ``road`` stands: along the road's bearing from its anchor, inside the district."""
    shape = _shape_by_code()[road.division_code]
    along = number * HOUSE_SPACING_M / 2  # numbers alternate sides, so two numbers per spacing
    side = ROAD_SIDE_OFFSET_M if number % 2 else -ROAD_SIDE_OFFSET_M
    east = along * math.sin(road.bearing) + side * math.cos(road.bearing)
    north = along * math.cos(road.bearing) - side * math.sin(road.bearing)
    for scale in (1.0, 0.5, 0.25, 0.1, 0.0):
        lon, lat = _offset(road.anchor[0], road.anchor[1], east * scale, north * scale)
        if shape.contains(lon, lat):
            return round(lon, 6), round(lat, 6)
    return road.anchor


def address_code(road: Road, number: int) -> str:
    """Standard address code: district, road index, house number (``430104-007-0123``)."""
    return f"{road.division_code}-{road.index:03d}-{number:04d}"


def full_address(road: Road, number: int) -> str:
    return f"{data.DISTRICTS[road.division_code][2]}{road.name}{number}号"


# ---- geocoding -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GeocodeMatch:
    """Where a free-text address is: the finest level matched, with coordinates and its division."""

    query: str
    level: str  # address (a registered standard address) | house (road + number, interpolated) | road | street | division
    score: float  # 1.0 address, 0.9 house, 0.75 road, 0.6 street, 0.4 division
    division_code: str
    division_name: str
    lon: float
    lat: float
    street: str | None = None
    community: str | None = None
    road: str | None = None
    house_number: int | None = None
    address_code: str | None = None
    standard_address: str | None = None


_FULLWIDTH = str.maketrans("０１２３４５６７８９　", "0123456789 ")
_CITY_PREFIXES = ("中华人民共和国", "中国", "湖南省", "湖南", "长沙市")
_NUMBER_AFTER_ROAD = re.compile(r"^\s*(\d{1,4})\s*号")
_OTHER_PLACE = re.compile(r"^[\u4e00-\u9fff]{2,3}(?:省|自治区)|^[\u4e00-\u9fff]{2,3}市[\u4e00-\u9fff]{1,4}?[区县市]")


def normalise_address(text: str) -> str:
    cleaned = "".join(text.translate(_FULLWIDTH).split())
    changed = True
    while changed:
        changed = False
        for prefix in _CITY_PREFIXES:
            if cleaned.startswith(prefix):
                cleaned, changed = cleaned[len(prefix):], True
        if cleaned.startswith("长沙") and not cleaned.startswith(("长沙县", "长沙市")):
            cleaned, changed = cleaned[2:], True
    return cleaned


@cache
def _district_names() -> tuple[tuple[str, str], ...]:
    """(name, code) pairs, full names first, then unambiguous short names (岳麓, 浏阳 …)."""
    full = [(s.name, s.code) for s in district_shapes()]
    short = [(s.name[:-1], s.code) for s in district_shapes() if len(s.name) == 3]
    return tuple(full + short)


def _find_district(text: str) -> str | None:
    for name, code in _district_names():
        if name in text:
            return code
    return None


def _find_road(text: str, division_code: str | None) -> tuple[Road, int] | None:
    """The longest road name in ``text`` (in ``division_code`` when known) and where it ends."""
    best: tuple[Road, int] | None = None
    for code, district_roads in roads().items():
        if division_code and code != division_code:
            continue
        for road in district_roads:
            position = text.find(road.name)
            if position >= 0 and (best is None or len(road.name) > len(best[0].name)):
                best = (road, position + len(road.name))
    return best


def _division_name(code: str) -> str:
    shape = district_shape(code)
    return shape.name if shape else code


def geocode(text: str, *, session: Session | None = None) -> GeocodeMatch | None:
    """Match a free-text Changsha address to the finest level the gazetteer knows.

    With a session, a road + number that is a registered standard address comes back with its
    ``address_code`` (level ``address``); without one, the same point comes back interpolated
    (level ``house``). None when not even a district is recognised.
    """
    query = text
    cleaned = normalise_address(text)
    if not cleaned:
        return None
    division_code = _find_district(cleaned)
    if division_code is None and _OTHER_PLACE.match(cleaned):
        return None  # another province or city (北京市朝阳区 is not 芙蓉区's 朝阳社区)
    found = _find_road(cleaned, division_code)
    if found is not None:
        road, end = found
        name = _division_name(road.division_code)
        number_match = _NUMBER_AFTER_ROAD.match(cleaned[end:])
        if number_match and int(number_match.group(1)) > 0:
            number = int(number_match.group(1))
            lon, lat = address_point(road, number)
            registered = session is not None and get_address(session, address_code(road, number)) is not None
            return GeocodeMatch(query, "address" if registered else "house", 1.0 if registered else 0.9,
                                road.division_code, name, lon, lat, road.street, road.community, road.name, number,
                                address_code(road, number) if registered else None,
                                full_address(road, number) if registered else None)
        return GeocodeMatch(query, "road", 0.75, road.division_code, name, road.anchor[0], road.anchor[1],
                            road.street, road.community, road.name)
    for place in places():
        if (division_code is None or place.division_code == division_code) and place.name in cleaned:
            return GeocodeMatch(query, "street", 0.6, place.division_code, _division_name(place.division_code),
                                place.point[0], place.point[1], place.street,
                                f"{place.name}社区" if place.kind == "locality" else None)
    if division_code is not None:
        shape = _shape_by_code()[division_code]
        return GeocodeMatch(query, "division", 0.4, division_code, shape.name, shape.center[0], shape.center[1])
    return None


# ---- the standard address table ---------------------------------------------------------------------

def get_address(session: Session, code: str) -> StandardAddress | None:
    return session.scalar(select(StandardAddress).where(StandardAddress.code == code))


def address_rows(pairs: Iterable[tuple[Road, int]]) -> list[dict[str, Any]]:
    """Rows of ``registry_address`` for (road, number) pairs, one per distinct address."""
    rows: dict[str, dict[str, Any]] = {}
    for road, number in pairs:
        code = address_code(road, number)
        if code in rows:
            continue
        lon, lat = address_point(road, number)
        rows[code] = {
            "code": code, "division_code": road.division_code, "street": road.street, "community": road.community,
            "road": road.name, "house_number": number, "full_address": full_address(road, number), "lon": lon, "lat": lat,
        }
    return [rows[k] for k in sorted(rows)]


def register_addresses(session: Session, texts: Iterable[str]) -> int:
    """Add the standard addresses (road + number) named in ``texts`` that are not registered yet."""
    pairs: list[tuple[Road, int]] = []
    for text in texts:
        cleaned = normalise_address(text)
        found = _find_road(cleaned, _find_district(cleaned))
        if found is None:
            continue
        number_match = _NUMBER_AFTER_ROAD.match(cleaned[found[1]:])
        if number_match and int(number_match.group(1)) > 0:
            pairs.append((found[0], int(number_match.group(1))))
    rows = address_rows(pairs)
    existing = set(session.scalars(select(StandardAddress.code).where(StandardAddress.code.in_([r["code"] for r in rows]))))
    new = [r for r in rows if r["code"] not in existing]
    table = StandardAddress.__table__
    assert isinstance(table, Table)
    for start in range(0, len(new), 2000):
        session.execute(insert(table), new[start:start + 2000])
    return len(new)


def list_addresses(
    session: Session, *, limit: int, offset: int, division_code: str | None = None, q: str | None = None,
    street: str | None = None,
) -> tuple[Sequence[StandardAddress], int]:
    statement = select(StandardAddress)
    if division_code:
        statement = statement.where(StandardAddress.division_code == division_code)
    if street:
        statement = statement.where(StandardAddress.street == street)
    if q:
        statement = statement.where(StandardAddress.full_address.contains(normalise_address(q)))
    total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    items = session.scalars(statement.order_by(StandardAddress.code).limit(limit).offset(offset)).all()
    return items, total


def count_addresses(session: Session) -> dict[str, int]:
    return {code: int(n) for code, n in session.execute(
        select(StandardAddress.division_code, func.count()).group_by(StandardAddress.division_code))}
