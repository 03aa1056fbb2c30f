"""Signal plans as phase strings, and the bridge from plans + detector counts to ``retiming``.

A junction's plan is SUMO's (and most controllers') model: an ordered list of phases, each a
state string with one character per controlled link (``G`` protected green, ``g`` permissive
green, ``y`` yellow, ``r`` red, ``u`` red-yellow, ``o``/``O`` off) and a duration. Phases with a
green and no yellow are *green phases* (their durations are retimed); the rest are intergreens
(kept). Each incoming lane is served first by one green phase — its *primary* phase — chosen by
how many of its links are green there (protected counts double).

``NetworkRetimer`` builds the ``RetimingProblem`` once for a set of junctions and turns one
interval's per-lane demand into new plans (cycle, phase durations, offset).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xingcheng.governance.traffic.retiming import (
    ArterialLink,
    RetimingLimits,
    RetimingProblem,
    coordinate,
    webster,
)

SATURATION_FLOW_VPH = 1800.0  # per lane, passenger-car units (HCM base ~1900; urban China ~1650–1800)


def is_green_phase(state: str) -> bool:
    return any(char in "Gg" for char in state) and not any(char in "yYu" for char in state)


@dataclass(frozen=True)
class Phase:
    state: str
    duration: float


@dataclass
class JunctionSignals:
    """One signal controller: its phases, and which incoming lane each link index leaves from."""

    key: str
    phases: list[Phase]
    link_lanes: list[str | None]  # incoming vehicle lane per link index; None = pedestrian/unknown
    crossing_lengths: dict[int, float] = field(default_factory=dict)  # pedestrian link -> metres
    offset: float = 0.0

    @property
    def cycle(self) -> float:
        return sum(phase.duration for phase in self.phases)

    def green_phases(self) -> list[int]:
        return [index for index, phase in enumerate(self.phases) if is_green_phase(phase.state)]

    def primary_phases(self) -> dict[str, int]:
        """Incoming lane -> the green phase (index into ``phases``) that serves it first."""
        greens = self.green_phases()
        score: dict[str, dict[int, float]] = {}
        for link, lane in enumerate(self.link_lanes):
            if lane is None:
                continue
            lane_score = score.setdefault(lane, {})
            for index in greens:
                char = self.phases[index].state[link] if link < len(self.phases[index].state) else "r"
                if char == "G":
                    lane_score[index] = lane_score.get(index, 0.0) + 2.0
                elif char == "g":
                    lane_score[index] = lane_score.get(index, 0.0) + 1.0
        primary: dict[str, int] = {}
        for lane, by_phase in score.items():
            if by_phase:
                primary[lane] = max(by_phase, key=lambda index: (by_phase[index], self.phases[index].duration))
        return primary

    def phase_min_green(self, index: int, limits: RetimingLimits) -> float:
        """Vehicle minimum (never above what the plan already ran) or pedestrian clearance."""
        phase = self.phases[index]
        minimum = min(limits.min_green, phase.duration)
        for link, length in self.crossing_lengths.items():
            if link < len(phase.state) and phase.state[link] in "Gg":
                minimum = max(minimum, limits.pedestrian_walk + length / limits.walk_speed)
        return minimum


@dataclass(frozen=True)
class ArterialCandidate:
    """A road from ``upstream``'s exit to ``downstream``'s approach lanes, for green waves."""

    upstream: str  # junction key
    upstream_phase: int  # phase index at the upstream junction sending traffic down the road
    downstream: str
    downstream_lanes: tuple[str, ...]  # approach lanes at the downstream junction
    travel_time: float  # s


@dataclass(frozen=True)
class NewPlan:
    key: str
    durations: list[float]
    cycle: float
    offset: float
    flow_ratio_sum: float
    oversaturated: bool


class NetworkRetimer:
    """Retimes a fixed set of junctions; build once, call ``retime`` each interval."""

    def __init__(self, junctions: list[JunctionSignals], limits: RetimingLimits | None = None,
                 saturation: dict[str, float] | None = None) -> None:
        self.limits = limits or RetimingLimits()
        self.junctions = [j for j in junctions if j.green_phases()]
        self.index = {j.key: i for i, j in enumerate(self.junctions)}
        phase_junction: list[int] = []
        phase_min: list[float] = []
        self.global_phase: dict[tuple[int, int], int] = {}  # (junction, local phase) -> global
        intergreen = np.zeros(len(self.junctions))
        max_cycle = np.zeros(len(self.junctions))
        self.detectors: list[tuple[str, str]] = []  # (junction key, lane)
        detector_phase: list[int] = []
        detector_sat: list[float] = []
        self.lane_phase: dict[tuple[str, str], int] = {}
        self.order: list[list[tuple[int, float]]] = []
        for j, junction in enumerate(self.junctions):
            sequence: list[tuple[int, float]] = []
            for local, phase in enumerate(junction.phases):
                if is_green_phase(phase.state):
                    self.global_phase[(j, local)] = len(phase_junction)
                    sequence.append((len(phase_junction), phase.duration))
                    phase_junction.append(j)
                    phase_min.append(junction.phase_min_green(local, self.limits))
                else:
                    intergreen[j] += phase.duration
                    sequence.append((-1, phase.duration))
            self.order.append(sequence)
            max_cycle[j] = max(self.limits.max_cycle, junction.cycle)
            for lane, local in sorted(junction.primary_phases().items()):
                self.lane_phase[(junction.key, lane)] = local
                self.detectors.append((junction.key, lane))
                detector_phase.append(self.global_phase[(j, local)])
                detector_sat.append((saturation or {}).get(lane, SATURATION_FLOW_VPH))
        self.detector_index = {key: i for i, key in enumerate(self.detectors)}
        self.problem = RetimingProblem(
            junction_keys=[j.key for j in self.junctions],
            phase_junction=np.asarray(phase_junction, dtype=np.int64),
            phase_min_green=np.asarray(phase_min, dtype=np.float64),
            intergreen=intergreen,
            detector_phase=np.asarray(detector_phase, dtype=np.int64),
            detector_saturation=np.asarray(detector_sat, dtype=np.float64),
            max_cycle=max_cycle,
            min_cycle=np.full(len(self.junctions), self.limits.min_cycle),
        )

    def retime(self, demand_vph: np.ndarray, arterials: list[ArterialCandidate] | None = None,
               *, coordinate_arterials: bool = True) -> list[NewPlan]:
        """New plans from per-detector demand (veh/h, aligned with ``self.detectors``)."""
        demand = np.asarray(demand_vph, dtype=np.float64)
        result = webster(self.problem, demand, self.limits)
        offsets = np.zeros(len(self.junctions))
        if coordinate_arterials and arterials:
            links: list[ArterialLink] = []
            for candidate in arterials:
                up, down = self.index.get(candidate.upstream), self.index.get(candidate.downstream)
                if up is None or down is None:
                    continue
                up_phase = self.global_phase.get((up, candidate.upstream_phase))
                lanes = [lane for lane in candidate.downstream_lanes
                         if (candidate.downstream, lane) in self.detector_index]
                if up_phase is None or not lanes:
                    continue
                flows = [demand[self.detector_index[(candidate.downstream, lane)]] for lane in lanes]
                busiest = lanes[int(np.argmax(flows))]
                down_phase = self.global_phase[(down, self.lane_phase[(candidate.downstream, busiest)])]
                links.append(ArterialLink(up, down, up_phase, down_phase, candidate.travel_time, float(sum(flows))))
            offsets = coordinate(self.problem, result, links, self.order)
        plans: list[NewPlan] = []
        for j, junction in enumerate(self.junctions):
            durations = [float(result.green[self.global_phase[(j, local)]]) if (j, local) in self.global_phase
                         else phase.duration for local, phase in enumerate(junction.phases)]
            durations = [round(value, 1) for value in durations]
            plans.append(NewPlan(key=junction.key, durations=durations, cycle=round(sum(durations), 1),
                                 offset=round(float(offsets[j]), 1),
                                 flow_ratio_sum=round(float(result.flow_ratio_sum[j]), 4),
                                 oversaturated=bool(result.oversaturated[j])))
        return plans
