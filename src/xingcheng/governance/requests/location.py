"""Where a request is: the pin or the address → district (GB/T 2260) and street, via the spatial registry."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from xingcheng.core.errors import Invalid
from xingcheng.datahub.registries import spatial


@dataclass(frozen=True)
class Location:
    lon: float | None
    lat: float | None
    division_code: str | None
    street: str | None
    address: str


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _nearest_street(division_code: str, lon: float, lat: float) -> str | None:
    best: tuple[float, str] | None = None
    for place in spatial.places():
        if place.division_code != division_code:
            continue
        d = distance_m(lon, lat, place.point[0], place.point[1])
        if best is None or d < best[0]:
            best = (d, place.street)
    return best[1] if best else None


def locate(
    session: Session | None, *, lon: float | None, lat: float | None, address: str | None, description: str = ""
) -> Location:
    """The request's place. A pin wins over the address; a pin outside the city is refused.

    Without a pin, the address (or, failing that, a place named in the description) is geocoded;
    the coordinates are kept only when the match is finer than a whole district.
    """
    address = (address or "").strip()
    if (lon is None) != (lat is None):
        raise Invalid("give both lat and long, or neither")
    if lon is not None and lat is not None:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise Invalid("coordinates must be finite numbers")
        division = spatial.division_at(lon, lat)
        if division is None:
            raise Invalid(f"the point ({lat:.5f}, {lon:.5f}) is outside the city's boundaries")
        return Location(lon, lat, division, _nearest_street(division, lon, lat), address)
    for text in (address, description):
        if not text:
            continue
        match = spatial.geocode(text, session=session)
        if match is None:
            continue
        if match.level == "division":
            return Location(None, None, match.division_code, None, address)
        return Location(match.lon, match.lat, match.division_code, match.street, address)
    return Location(None, None, None, None, address)
