"""Traffic state per link and interval, graded per GB/T 33171-2016, vectorised with numpy.

GB/T 33171-2016《城市交通运行状况评价规范》— what is implemented here:

* **Link grading (路段交通运行状况等级, the standard's grading table by road class and 路段平均
  行程速度)**: five levels 畅通 / 基本畅通 / 轻度拥堵 / 中度拥堵 / 严重拥堵 from the link's mean
  travel speed, with class thresholds (km/h) — 快速路 65/50/35/20, 主干路 40/30/20/15,
  次干路·支路 35/25/15/10 (``LEVEL_THRESHOLDS_KMH``).
* **Traffic performance index (交通运行指数, 0–10)**: each level is a band of two index points
  (0–2 畅通 … 8–10 严重拥堵); within its band a link's index is interpolated linearly on speed
  between the band's thresholds (free-flow speed at 0, standstill at 10).
* **Area and city index (区域/路网运行指数)**: the VKT-weighted (flow × length) mean of the link
  indices of the area; the congested share is the VKT share at 中度拥堵 or worse.

Inputs are detector measurements per interval: counts, occupancy (0–1) and spot speeds.
``compute_state`` aggregates them to links (flow = lane counts summed; speed = count-weighted
mean; no vehicles and a high occupancy = standstill), ``naive_state`` is the per-detector Python
loop kept as the benchmark's baseline and as a test oracle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ROAD_CLASSES = ("expressway", "arterial", "collector")
LEVEL_THRESHOLDS_KMH = {
    "expressway": (65.0, 50.0, 35.0, 20.0),
    "arterial": (40.0, 30.0, 20.0, 15.0),
    "collector": (35.0, 25.0, 15.0, 10.0),
}
LEVEL_LABELS = {1: "畅通", 2: "基本畅通", 3: "轻度拥堵", 4: "中度拥堵", 5: "严重拥堵"}
JAM_OCCUPANCY = 0.5  # no vehicle crossed yet the loop was this occupied: a standing queue
INCIDENT_SPEED_DROP = 0.4  # speed fell by ≥ 40 % from the previous interval …
INCIDENT_OCCUPANCY_JUMP = 0.25  # … or occupancy rose by ≥ 25 points (and at least doubled)


def road_class(speed_limit_kmh: float, lanes: int) -> str:
    if speed_limit_kmh >= 80:
        return "expressway"
    if lanes >= 3 or speed_limit_kmh >= 50:
        return "arterial"
    return "collector"


@dataclass
class LinkTable:
    """The links of a network as arrays (built once)."""

    length_m: FloatArray
    speed_limit_kmh: FloatArray
    thresholds: FloatArray  # (L, 4) km/h, descending
    area: IntArray  # (L,) index into ``area_codes``
    area_codes: list[str]

    @classmethod
    def build(cls, length_m: list[float], speed_limit_kmh: list[float], classes: list[str],
              areas: list[str]) -> LinkTable:
        codes = sorted(set(areas))
        position = {code: i for i, code in enumerate(codes)}
        return cls(
            length_m=np.asarray(length_m, dtype=np.float64),
            speed_limit_kmh=np.asarray(speed_limit_kmh, dtype=np.float64),
            thresholds=np.asarray([LEVEL_THRESHOLDS_KMH[c] for c in classes], dtype=np.float64).reshape(-1, 4),
            area=np.asarray([position[a] for a in areas], dtype=np.int64),
            area_codes=codes,
        )


@dataclass
class LinkStates:
    flow_vph: FloatArray
    speed_kmh: FloatArray
    occupancy: FloatArray
    travel_time_s: FloatArray
    tpi: FloatArray
    level: IntArray


@dataclass
class AreaStates:
    codes: list[str]
    tpi: FloatArray
    level: IntArray
    speed_kmh: FloatArray
    congested_share: FloatArray


def grade(speed_kmh: FloatArray, thresholds: FloatArray, free_speed_kmh: FloatArray) -> tuple[FloatArray, IntArray]:
    """Index (0–10) and level (1–5) per link from speed and the class thresholds."""
    level = 1 + (speed_kmh[:, None] <= thresholds).sum(axis=1)
    top = np.maximum(free_speed_kmh, thresholds[:, 0] + 1.0)
    # Band edges: [top, t1, t2, t3, t4, 0] — band k spans edges k-1 (fast) to k (slow).
    edges = np.column_stack([top, thresholds, np.zeros(len(speed_kmh))])
    rows = np.arange(len(speed_kmh))
    fast = edges[rows, level - 1]
    slow = edges[rows, level]
    within = np.clip((fast - speed_kmh) / np.maximum(fast - slow, 1e-9), 0.0, 1.0)
    tpi = np.clip(2.0 * (level - 1) + 2.0 * within, 0.0, 10.0)
    return tpi, level.astype(np.int64)


def compute_state(links: LinkTable, detector_link: IntArray, count: FloatArray, occupancy: FloatArray,
                  speed_kmh: FloatArray, interval_s: float) -> LinkStates:
    """Link states from one interval of detector data (arrays aligned with ``detector_link``)."""
    n = len(links.length_m)
    vehicles = np.bincount(detector_link, weights=count, minlength=n)
    speed_sum = np.bincount(detector_link, weights=count * speed_kmh, minlength=n)
    occupancy_sum = np.bincount(detector_link, weights=occupancy, minlength=n)
    detectors = np.bincount(detector_link, minlength=n)
    mean_occupancy = np.divide(occupancy_sum, detectors, out=np.zeros(n), where=detectors > 0)
    measured = np.divide(speed_sum, vehicles, out=np.zeros(n), where=vehicles > 0)
    idle_speed = np.where(mean_occupancy >= JAM_OCCUPANCY, 3.0, links.speed_limit_kmh)
    speed = np.where(vehicles > 0, measured, idle_speed)
    speed = np.clip(speed, 1.0, None)
    travel = links.length_m / (speed / 3.6)
    tpi, level = grade(speed, links.thresholds, links.speed_limit_kmh)
    return LinkStates(flow_vph=vehicles * 3600.0 / interval_s, speed_kmh=speed, occupancy=mean_occupancy,
                      travel_time_s=travel, tpi=tpi, level=level)


def area_index(links: LinkTable, states: LinkStates) -> AreaStates:
    """VKT-weighted index, speed and congested share per area (and nothing for empty areas)."""
    m = len(links.area_codes)
    vkt = np.maximum(states.flow_vph, 1.0) * links.length_m  # an empty link still counts a little
    weight = np.bincount(links.area, weights=vkt, minlength=m)
    tpi = np.bincount(links.area, weights=vkt * states.tpi, minlength=m) / np.maximum(weight, 1e-9)
    hours = np.bincount(links.area, weights=np.maximum(states.flow_vph, 1.0) * states.travel_time_s, minlength=m)
    speed = np.divide(weight, hours, out=np.zeros(m), where=hours > 0) * 3.6
    congested = np.bincount(links.area, weights=vkt * (states.level >= 4), minlength=m) / np.maximum(weight, 1e-9)
    level = np.minimum(1 + (tpi // 2).astype(np.int64), 5)
    return AreaStates(codes=links.area_codes, tpi=tpi, level=level, speed_kmh=speed, congested_share=congested)


def city_index(links: LinkTable, states: LinkStates) -> tuple[float, int, float, float]:
    """(tpi, level, speed km/h, congested share) over every link."""
    whole = LinkTable(links.length_m, links.speed_limit_kmh, links.thresholds,
                      np.zeros(len(links.length_m), dtype=np.int64), ["city"])
    result = area_index(whole, states)
    return float(result.tpi[0]), int(result.level[0]), float(result.speed_kmh[0]), float(result.congested_share[0])


def detect_incidents(previous: LinkStates, current: LinkStates) -> tuple[IntArray, IntArray]:
    """Links with a sudden speed drop, and links with an occupancy jump, between two intervals."""
    drop = (previous.speed_kmh > 0) & (current.speed_kmh <= (1.0 - INCIDENT_SPEED_DROP) * previous.speed_kmh) \
        & (current.level >= 3)
    jump = (current.occupancy - previous.occupancy >= INCIDENT_OCCUPANCY_JUMP) \
        & (current.occupancy >= 2.0 * previous.occupancy)
    return np.flatnonzero(drop).astype(np.int64), np.flatnonzero(jump).astype(np.int64)


def naive_state(length_m: list[float], speed_limit_kmh: list[float], classes: list[str], detector_link: list[int],
                count: list[float], occupancy: list[float], speed_kmh: list[float],
                interval_s: float) -> list[tuple[float, float, float, float, float, int]]:
    """The same computation one detector and one link at a time (baseline and oracle)."""
    per_link: dict[int, list[tuple[float, float, float]]] = {}
    for link, c, o, v in zip(detector_link, count, occupancy, speed_kmh, strict=True):
        per_link.setdefault(link, []).append((c, o, v))
    out = []
    for link, length in enumerate(length_m):
        rows = per_link.get(link, [])
        vehicles = sum(r[0] for r in rows)
        occ = sum(r[1] for r in rows) / len(rows) if rows else 0.0
        if vehicles > 0:
            speed = sum(r[0] * r[2] for r in rows) / vehicles
        else:
            speed = 3.0 if occ >= JAM_OCCUPANCY else speed_limit_kmh[link]
        speed = max(speed, 1.0)
        thresholds = LEVEL_THRESHOLDS_KMH[classes[link]]
        level = 1 + sum(1 for t in thresholds if speed <= t)
        edges = [max(speed_limit_kmh[link], thresholds[0] + 1.0), *thresholds, 0.0]
        fast, slow = edges[level - 1], edges[level]
        within = min(max((fast - speed) / max(fast - slow, 1e-9), 0.0), 1.0)
        tpi = min(max(2.0 * (level - 1) + 2.0 * within, 0.0), 10.0)
        out.append((vehicles * 3600.0 / interval_s, speed, occ, length / (speed / 3.6), tpi, level))
    return out
