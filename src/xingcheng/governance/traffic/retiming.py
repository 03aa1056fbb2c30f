"""Webster retiming and arterial coordination, vectorised over a whole network.

One call retimes every signalised junction of a network for one interval from the detectors'
counts of the last interval:

1. flow ratio per detector ``y = q / s`` (demand in veh/h over the lane's saturation flow);
2. critical flow ratio per green phase ``y_i`` = the largest ratio among the lanes the phase
   serves first (``np.maximum.at``), ``Y = Σ y_i`` per junction;
3. Webster's optimal cycle ``C0 = (1.5 L + 5) / (1 − Y)`` clipped to ``[C_min, C_max]`` (and to
   what the minimum greens and lost time need); ``Y ≥ Y_max`` means oversaturated → ``C_max``;
4. green splits ``g_i = (C − I) · y_i / Y`` with each phase's minimum green (vehicle minimum or
   pedestrian clearance, whichever is longer) enforced by redistributing the surplus;
5. coordination: junctions along an arterial share the cycle of their critical junction and get
   offsets that make a green wave for the dominant direction (``coordinate``).

Nothing here knows about the database or the simulator: ``service`` and ``sumo`` build the
arrays (``RetimingProblem``) and apply the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class RetimingLimits:
    """The engineering limits a plan must respect (seconds unless stated)."""

    min_cycle: float = 40.0
    max_cycle: float = 120.0
    min_green: float = 6.0
    startup_lost: float = 2.0  # per green phase, added to the intergreens for Webster's L
    max_flow_ratio_sum: float = 0.92  # Y at or above this is treated as oversaturated
    walk_speed: float = 1.2  # m/s, pedestrian clearance = walk + crossing length / walk_speed
    pedestrian_walk: float = 5.0


@dataclass
class RetimingProblem:
    """A network's signal structure as flat arrays (built once, reused every interval).

    Junctions ``j = 0..J-1``; green phases ``p = 0..P-1`` (``phase_junction[p]``); detectors
    ``d = 0..D-1`` each feeding one green phase (``detector_phase[d]``) with a saturation flow.
    """

    junction_keys: list[str]
    phase_junction: IntArray  # (P,)
    phase_min_green: FloatArray  # (P,) vehicle minimum or pedestrian clearance
    intergreen: FloatArray  # (J,) yellow + all-red per cycle (fixed)
    detector_phase: IntArray  # (D,)
    detector_saturation: FloatArray  # (D,) veh/h
    max_cycle: FloatArray  # (J,)
    min_cycle: FloatArray  # (J,)
    phase_count: IntArray = field(init=False)  # (J,) green phases per junction

    def __post_init__(self) -> None:
        self.phase_count = np.bincount(self.phase_junction, minlength=len(self.junction_keys)).astype(np.int64)

    @property
    def junctions(self) -> int:
        return len(self.junction_keys)


@dataclass
class RetimingResult:
    cycle: FloatArray  # (J,)
    green: FloatArray  # (P,) displayed green per green phase
    phase_ratio: FloatArray  # (P,) critical flow ratio y_i
    flow_ratio_sum: FloatArray  # (J,) Y
    oversaturated: NDArray[np.bool_]  # (J,)


def critical_flow_ratios(problem: RetimingProblem, demand_vph: FloatArray) -> FloatArray:
    """``y_i`` per green phase: the largest demand/saturation ratio among the lanes it serves."""
    ratio = np.clip(demand_vph, 0.0, None) / np.maximum(problem.detector_saturation, 1.0)
    phase_ratio = np.zeros(len(problem.phase_junction))
    np.maximum.at(phase_ratio, problem.detector_phase, ratio)
    return phase_ratio


def webster(problem: RetimingProblem, demand_vph: FloatArray, limits: RetimingLimits) -> RetimingResult:
    """Webster's optimal cycle and splits for every junction at once (see the module docstring)."""
    junctions = problem.junctions
    phase_ratio = critical_flow_ratios(problem, demand_vph)
    flow_ratio_sum = np.bincount(problem.phase_junction, weights=phase_ratio, minlength=junctions)
    lost = problem.intergreen + limits.startup_lost * problem.phase_count
    oversaturated = flow_ratio_sum >= limits.max_flow_ratio_sum
    capped = np.minimum(flow_ratio_sum, limits.max_flow_ratio_sum)
    optimal = (1.5 * lost + 5.0) / (1.0 - capped)
    min_green_total = np.bincount(problem.phase_junction, weights=problem.phase_min_green, minlength=junctions)
    floor = np.maximum(problem.min_cycle, problem.intergreen + min_green_total)
    ceiling = np.maximum(problem.max_cycle, floor)
    cycle = np.clip(np.where(oversaturated, ceiling, optimal), floor, ceiling)
    green = split_greens(problem, cycle, phase_ratio)
    return RetimingResult(cycle=cycle, green=green, phase_ratio=phase_ratio,
                          flow_ratio_sum=flow_ratio_sum, oversaturated=oversaturated)


def split_greens(problem: RetimingProblem, cycle: FloatArray, phase_ratio: FloatArray) -> FloatArray:
    """Greens proportional to ``y_i`` filling ``C − I``, each at least its minimum green."""
    junction = problem.phase_junction
    junctions = problem.junctions
    available = (cycle - problem.intergreen)[junction]
    # A phase that saw no demand still gets a share so a detector fault never starves an approach.
    weight = np.maximum(phase_ratio, 0.02)
    weight_sum = np.bincount(junction, weights=weight, minlength=junctions)[junction]
    green = available * weight / weight_sum
    minimum = problem.phase_min_green
    # Fix phases below their minimum and share the rest among the others; a few rounds converge
    # (each round pins at least one more phase or stops).
    for _ in range(8):
        pinned = green <= minimum + 1e-9
        if not pinned.any():
            break
        free_weight = np.bincount(junction, weights=np.where(pinned, 0.0, weight), minlength=junctions)[junction]
        pinned_total = np.bincount(junction, weights=np.where(pinned, minimum, 0.0), minlength=junctions)[junction]
        rest = np.maximum(available - pinned_total, 0.0)
        updated = np.where(pinned, minimum, rest * weight / np.where(free_weight > 0, free_weight, 1.0))
        if np.allclose(updated, green):
            break
        green = updated
    return np.maximum(green, minimum)


@dataclass(frozen=True)
class ArterialLink:
    """A coordinated movement: from ``upstream`` junction's phase to ``downstream``'s phase."""

    upstream: int
    downstream: int
    upstream_phase: int  # global green-phase index at the upstream junction serving the movement
    downstream_phase: int  # global green-phase index at the downstream junction (the arrival phase)
    travel_time: float  # s, free-flow-ish progression time between the stop lines
    flow: float  # veh/h on the link in the last interval (chooses the dominant direction)


def phase_starts(problem: RetimingProblem, green: FloatArray, order: list[list[tuple[int, float]]]) -> FloatArray:
    """Start time of each green phase within its cycle.

    ``order[j]`` lists junction ``j``'s phases in cycle order as ``(global green phase | -1,
    fixed duration)``: green phases take their new green, others (yellow, all-red) their duration.
    """
    starts = np.zeros(len(green))
    for sequence in order:
        clock = 0.0
        for phase, duration in sequence:
            if phase >= 0:
                starts[phase] = clock
                clock += float(green[phase])
            else:
                clock += duration
    return starts


def coordinate(problem: RetimingProblem, result: RetimingResult, links: list[ArterialLink],
               order: list[list[tuple[int, float]]], *, max_group_cycle_increase: float = 1.35) -> FloatArray:
    """Offsets (s) per junction for green waves in each junction's dominant direction.

    Every junction follows at most one upstream neighbour: the one feeding its busiest coordinated
    approach. The resulting forest is walked from its roots; a junction joins its parent's group
    only if the common cycle (the group's longest) is at most ``max_group_cycle_increase`` times its
    own, so a quiet junction is not forced onto a long cycle. Each group then runs the common cycle
    (greens re-split in proportion) and offsets follow the progression times. Updates
    ``result.cycle``/``result.green`` in place and returns the offsets.
    """
    junctions = problem.junctions
    parent_link: dict[int, ArterialLink] = {}
    for link in sorted(links, key=lambda item: -item.flow):
        if link.flow <= 0 or link.downstream in parent_link or link.upstream == link.downstream:
            continue
        # No cycles: walk up from the upstream junction.
        node, seen = link.upstream, {link.downstream}
        cyclic = False
        while node in parent_link:
            if node in seen:
                cyclic = True
                break
            seen.add(node)
            node = parent_link[node].upstream
        if cyclic or node == link.downstream:
            continue
        parent_link[link.downstream] = link
    children: dict[int, list[ArterialLink]] = {}
    for link in parent_link.values():
        children.setdefault(link.upstream, []).append(link)
    offsets = np.zeros(junctions)
    roots = [j for j in range(junctions) if j not in parent_link]
    cycle = result.cycle
    group_of = np.arange(junctions)
    group_max = {j: float(cycle[j]) for j in range(junctions)}
    group_min = dict(group_max)
    # Groups: a child joins its parent's group when the cycles are compatible.
    for root in roots:
        stack = [root]
        while stack:
            node = stack.pop()
            for link in children.get(node, []):
                child = link.downstream
                group = int(group_of[node])
                own = float(cycle[child])
                common = max(group_max[group], own)
                if common <= max_group_cycle_increase * min(own, group_min[group]):
                    group_of[child] = group
                    group_max[group] = common
                    group_min[group] = min(group_min[group], own)
                stack.append(child)
    common_cycle = np.array([group_max[int(g)] for g in group_of])
    sizes = np.bincount(group_of, minlength=junctions)
    grouped = sizes[group_of] > 1
    if grouped.any():
        cycle[grouped] = common_cycle[grouped]
        resplit = split_greens(problem, cycle, result.phase_ratio)
        phase_grouped = grouped[problem.phase_junction]
        result.green[phase_grouped] = resplit[phase_grouped]
    starts = phase_starts(problem, result.green, order)
    for root in roots:
        stack = [root]
        while stack:
            node = stack.pop()
            for link in children.get(node, []):
                child = link.downstream
                if group_of[child] == group_of[node]:
                    arrival = offsets[node] + starts[link.upstream_phase] + link.travel_time
                    offsets[child] = (arrival - starts[link.downstream_phase]) % cycle[child]
                stack.append(child)
    return offsets


def validate_plan(states: list[str], durations: list[float], conflicts: set[tuple[int, int]], *,
                  min_cycle: float, max_cycle: float) -> list[str]:
    """Problems with a plan (empty = valid): cycle limits, and conflicting links green together.

    ``states`` are per-phase signal strings (one char per controlled link: G/g green, y yellow,
    r red, …); ``conflicts`` are pairs of link indexes that must never be green at once.
    """
    problems: list[str] = []
    cycle = sum(durations)
    if cycle < min_cycle - 1e-6 or cycle > max_cycle + 1e-6:
        problems.append(f"cycle {cycle:.0f} s outside [{min_cycle:.0f}, {max_cycle:.0f}] s")
    for index, (state, duration) in enumerate(zip(states, durations, strict=True)):
        if duration <= 0:
            problems.append(f"phase {index} has no duration")
        greens = {i for i, char in enumerate(state) if char == "G"}
        for a, b in conflicts:
            # Two protected greens on conflicting links; a permissive 'g' yields by definition.
            if a in greens and b in greens:
                problems.append(f"phase {index}: conflicting links {a} and {b} both have protected green")
    return problems
