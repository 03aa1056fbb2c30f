"""Webster retiming, coordination offsets, plan validation and GB/T 33171 grading — pure functions."""

from __future__ import annotations

import numpy as np
import pytest

from xingcheng.governance.traffic import state
from xingcheng.governance.traffic.retiming import RetimingLimits, validate_plan
from xingcheng.governance.traffic.signals import ArterialCandidate, JunctionSignals, NetworkRetimer, Phase

# A four-arm junction: links 0-1 from the west lane, 2 north, 3-4 east, 5 south; two green phases.
FOUR_ARM = [Phase("GGrGGr", 30.0), Phase("yyryyr", 3.0), Phase("rrGrrG", 30.0), Phase("rryrry", 3.0)]
LANES: list[str | None] = ["w0", "w0", "n0", "e0", "e0", "s0"]


def junction(key: str = "J", phases: list[Phase] | None = None, crossings: dict[int, float] | None = None) -> JunctionSignals:
    return JunctionSignals(key=key, phases=list(phases or FOUR_ARM), link_lanes=list(LANES),
                           crossing_lengths=crossings or {})


def demand(retimer: NetworkRetimer, per_lane: dict[str, float]) -> np.ndarray:
    return np.array([per_lane.get(lane, 0.0) for _key, lane in retimer.detectors])


def test_webster_cycle_and_splits_follow_the_critical_flow_ratios():
    retimer = NetworkRetimer([junction()], RetimingLimits(startup_lost=2.0))
    # y: east-west critical 720/1800 = 0.4, north-south 360/1800 = 0.2 → Y = 0.6
    plan = retimer.retime(demand(retimer, {"w0": 540, "e0": 720, "n0": 360, "s0": 180}))[0]
    lost = 6.0 + 2 * 2.0
    expected_cycle = (1.5 * lost + 5) / (1 - 0.6)
    assert plan.cycle == pytest.approx(expected_cycle, abs=0.2)
    green_ew, green_ns = plan.durations[0], plan.durations[2]
    assert green_ew / green_ns == pytest.approx(2.0, rel=0.02)
    assert plan.durations[1] == 3.0 and plan.durations[3] == 3.0  # intergreens kept
    assert plan.flow_ratio_sum == pytest.approx(0.6)


def test_minimum_green_pedestrian_clearance_and_cycle_limits_hold():
    limits = RetimingLimits(min_green=8.0, max_cycle=100.0)
    # The north-south phase also gives a 24 m crossing its walk signal: clearance 5 + 24/1.2 = 25 s.
    phases = [Phase("GGrGGrr", 30.0), Phase("yyryyrr", 3.0), Phase("rrGrrGG", 30.0), Phase("rryrryr", 3.0)]
    j = JunctionSignals(key="J", phases=phases, link_lanes=[*LANES, None], crossing_lengths={6: 24.0})
    retimer = NetworkRetimer([j], limits)
    plan = retimer.retime(demand(retimer, {"w0": 1500, "e0": 1700, "n0": 10, "s0": 10}))[0]
    assert plan.durations[2] >= 25.0 - 1e-6
    assert plan.oversaturated and plan.cycle == pytest.approx(100.0, abs=0.2)
    quiet = retimer.retime(demand(retimer, {}))[0]
    assert quiet.cycle >= limits.min_cycle - 0.1 and quiet.durations[0] >= 8.0


def test_green_wave_offsets_follow_the_dominant_direction():
    a, b = junction("A"), junction("B")
    retimer = NetworkRetimer([a, b], RetimingLimits())
    arterial = ArterialCandidate(upstream="A", upstream_phase=0, downstream="B", downstream_lanes=("w0",),
                                 travel_time=40.0)
    volumes = demand(retimer, {"w0": 700, "e0": 600, "n0": 300, "s0": 300})
    plans = {p.key: p for p in retimer.retime(volumes, [arterial])}
    assert plans["A"].cycle == plans["B"].cycle  # one group, one common cycle
    assert plans["B"].offset == pytest.approx((plans["A"].offset + 40.0) % plans["B"].cycle, abs=0.2)
    uncoordinated = {p.key: p for p in retimer.retime(volumes, [arterial], coordinate_arterials=False)}
    assert uncoordinated["B"].offset == 0.0


def test_validation_refuses_conflicting_protected_greens_and_bad_cycles():
    states = ["GGrr", "yyrr", "rrGG", "rryy"]
    assert validate_plan(states, [30, 3, 30, 3], {(0, 2)}, min_cycle=40, max_cycle=180) == []
    problems = validate_plan(["GGGr", "yyyr", "rrGG", "rryy"], [30, 3, 30, 3], {(0, 2)}, min_cycle=40, max_cycle=180)
    assert any("conflicting links 0 and 2" in p for p in problems)
    assert any("outside" in p for p in validate_plan(states, [100, 3, 100, 3], set(), min_cycle=40, max_cycle=180))


@pytest.mark.parametrize(("road_class", "speed", "level"), [
    ("arterial", 45.0, 1), ("arterial", 40.0, 2), ("arterial", 30.0, 3), ("arterial", 20.0, 4), ("arterial", 15.0, 5),
    ("expressway", 66.0, 1), ("expressway", 50.0, 3), ("expressway", 20.0, 5),
    ("collector", 36.0, 1), ("collector", 25.0, 3), ("collector", 10.0, 5),
])
def test_gbt_33171_link_levels(road_class, speed, level):
    thresholds = np.array([state.LEVEL_THRESHOLDS_KMH[road_class]])
    tpi, levels = state.grade(np.array([speed]), thresholds, np.array([60.0]))
    assert int(levels[0]) == level
    assert 2 * (level - 1) <= tpi[0] <= 2 * level


def test_vectorised_state_matches_the_naive_loop_and_flags_incidents():
    rng = np.random.default_rng(3)
    links, detectors = 40, 150
    length = rng.uniform(100, 800, links)
    limit = rng.choice([40.0, 50.0, 60.0, 80.0], links)
    classes = [state.road_class(float(v), 2) for v in limit]
    table = state.LinkTable.build(list(length), list(limit), classes, ["430102"] * 20 + ["430103"] * 20)
    detector_link = rng.integers(0, links - 2, detectors)  # the last two links have no detector
    count = rng.integers(0, 200, detectors).astype(float)
    count[:5] = 0
    occupancy = rng.uniform(0, 0.9, detectors)
    speed = rng.uniform(3, 70, detectors)
    fast = state.compute_state(table, detector_link, count, occupancy, speed, 900.0)
    slow = state.naive_state(list(length), list(limit), classes, detector_link.tolist(), count.tolist(),
                             occupancy.tolist(), speed.tolist(), 900.0)
    assert np.allclose(fast.tpi, [row[4] for row in slow])
    assert fast.level.tolist() == [row[5] for row in slow]
    assert np.allclose(fast.speed_kmh, [row[1] for row in slow])
    areas = state.area_index(table, fast)
    assert areas.codes == ["430102", "430103"] and ((areas.tpi >= 0) & (areas.tpi <= 10)).all()
    worse = state.compute_state(table, detector_link, count, np.minimum(occupancy + 0.5, 1.0), speed * 0.3, 900.0)
    drops, jumps = state.detect_incidents(fast, worse)
    assert len(drops) > 0 and len(jumps) > 0
    same_drops, same_jumps = state.detect_incidents(fast, fast)
    assert len(same_drops) == 0 and len(same_jumps) == 0
