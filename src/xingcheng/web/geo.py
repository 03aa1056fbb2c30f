"""Changsha's nine district outlines for the cockpit map: read once from the package, served from memory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import Response
from nicegui import app

import xingcheng.datahub.registries.spatial as spatial

GEOJSON_FILE = spatial.GEOJSON_FILE  # the spatial registry owns the boundary data
GEOJSON_URL = "/xc-assets/changsha_districts.geojson"
MAP_NAME = "changsha"

# ECharts ships as an ES module inside NiceGUI (no global `echarts`): import it, register the map once per
# browser tab, and only then let a chart use it. `return true` lets the server await completion.
REGISTER_MAP_JS = f"""
const {{echarts}} = await import('nicegui-echart');
if (!echarts.getMap('{MAP_NAME}')) {{
  const response = await fetch('{GEOJSON_URL}');
  if (!response.ok) throw new Error('changsha map: HTTP ' + response.status);
  echarts.registerMap('{MAP_NAME}', await response.json());
}}
return true;
"""


@dataclass(frozen=True)
class District:
    code: str  # GB/T 2260
    name: str
    center: tuple[float, float]  # lon, lat; inside the district, for its label


@lru_cache(maxsize=1)
def _collection() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GEOJSON_FILE.read_bytes())
    for feature in data["features"]:
        # ECharts places a region's label at `properties.cp`; the file's `center` is chosen to lie inside
        # the district, where the computed centroid of e.g. 望城区 can fall outside it.
        feature["properties"]["cp"] = feature["properties"]["center"]
    return data


@lru_cache(maxsize=1)
def geojson_bytes() -> bytes:
    """The GeoJSON as the browser gets it: compact, labels pinned to each district's centre."""
    return json.dumps(_collection(), ensure_ascii=False, separators=(",", ":")).encode()


@lru_cache(maxsize=1)
def districts() -> tuple[District, ...]:
    return tuple(
        District(code=f["properties"]["code"], name=f["properties"]["name"], center=tuple(f["properties"]["center"]))
        for f in _collection()["features"]
    )


def register_route() -> None:
    @app.get(GEOJSON_URL, include_in_schema=False)
    def changsha_geojson() -> Response:
        return Response(
            geojson_bytes(), media_type="application/geo+json",
            headers={"Cache-Control": "public, max-age=86400"},
        )
