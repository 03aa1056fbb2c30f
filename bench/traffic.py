"""Traffic brain at city scale: one 15-minute retiming of every junction, and one interval of
traffic state from 5,000 detectors — vectorised (numpy) against a per-detector Python baseline
measured in the same run.

The city-scale network is generated here with SUMO's netgenerate (a grid of signalised
junctions, three lanes per approach) and read with sumolib like any imported network; detectors
sit on every approach lane (the first 5,000 are used). Demand is random but seeded.

    python bench/traffic.py [--grid 21] [--detectors 5000] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xingcheng.governance.traffic import state
from xingcheng.governance.traffic.retiming import RetimingLimits
from xingcheng.governance.traffic.signals import SATURATION_FLOW_VPH, NetworkRetimer, is_green_phase
from xingcheng.governance.traffic.sumo import binary, read_network


def generate_city(directory: Path, grid: int) -> Path:
    target = directory / f"city_grid{grid}.net.xml"
    subprocess.run([binary("netgenerate"), "--grid", "--grid.number", str(grid), "--grid.length", "250",
                    "--grid.attach-length", "150", "-L", "3", "--tls.guess", "true",
                    "--default-junction-type", "traffic_light", "--no-turnarounds", "true",
                    "--no-warnings", "true", "-o", str(target)], check=True, capture_output=True)
    return target


def naive_webster(retimer: NetworkRetimer, demand: dict[tuple[str, str], float],
                  limits: RetimingLimits) -> dict[str, tuple[float, dict[int, float]]]:
    """Per junction, per lane, in plain Python: cycle and proportional splits (no offsets)."""
    cycles: dict[str, tuple[float, dict[int, float]]] = {}
    for junction in retimer.junctions:
        primary = junction.primary_phases()
        greens = junction.green_phases()
        ratios = dict.fromkeys(greens, 0.0)
        for lane, phase in primary.items():
            ratios[phase] = max(ratios[phase], demand.get((junction.key, lane), 0.0) / SATURATION_FLOW_VPH)
        total = sum(ratios.values())
        intergreen = sum(p.duration for i, p in enumerate(junction.phases) if not is_green_phase(p.state))
        lost = intergreen + limits.startup_lost * len(greens)
        capped = min(total, limits.max_flow_ratio_sum)
        minimum = intergreen + sum(junction.phase_min_green(i, limits) for i in greens)
        floor = max(limits.min_cycle, minimum)
        ceiling = max(limits.max_cycle, junction.cycle, floor)
        cycle = ceiling if total >= limits.max_flow_ratio_sum else (1.5 * lost + 5) / (1 - capped)
        cycle = min(max(cycle, floor), ceiling)
        weight = {i: max(r, 0.02) for i, r in ratios.items()}
        splits = {i: max((cycle - intergreen) * w / sum(weight.values()), junction.phase_min_green(i, limits))
                  for i, w in weight.items()}
        cycles[junction.key] = (cycle, splits)
    return cycles


def timed(function, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=21, help="junctions per side of the generated grid")
    parser.add_argument("--detectors", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(20261125)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        network = generate_city(Path(tmp), args.grid)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        model = read_network(network)
        parsed = time.perf_counter() - started
    limits = RetimingLimits()
    started = time.perf_counter()
    retimer = NetworkRetimer(model.junctions, limits)
    built = time.perf_counter() - started
    detectors = retimer.detectors[: args.detectors]
    volumes = np.zeros(len(retimer.detectors))
    volumes[: len(detectors)] = rng.uniform(50, 900, len(detectors))

    retime_s, plans = timed(lambda: retimer.retime(volumes, model.arterials), args.repeat)
    by_key = dict(zip(retimer.detectors, volumes.tolist(), strict=True))
    naive_s, naive_cycles = timed(lambda: naive_webster(retimer, by_key, limits), args.repeat)
    uncoordinated = {p.key: p.cycle for p in retimer.retime(volumes, model.arterials, coordinate_arterials=False)}
    agree = all(abs(uncoordinated[k] - v[0]) < 0.2 for k, v in naive_cycles.items())  # type: ignore[union-attr]

    # State: the same 5,000 detectors on their links, one 15-minute interval.
    link_ids = sorted({model.approach_lanes[lane].edge for _key, lane in detectors} | {road.id for road in model.links})
    position = {link: i for i, link in enumerate(link_ids)}
    roads = {road.id: road for road in model.links}
    length = [roads[link].length if link in roads else 200.0 for link in link_ids]
    limit = [roads[link].speed * 3.6 if link in roads else 50.0 for link in link_ids]
    classes = [state.road_class(v, roads[link].lanes if link in roads else 2) for link, v in zip(link_ids, limit, strict=True)]
    table = state.LinkTable.build(length, limit, classes, ["430102"] * len(link_ids))
    detector_link = np.array([position[model.approach_lanes[lane].edge] for _key, lane in detectors], dtype=np.int64)
    count = rng.integers(0, 250, len(detectors)).astype(np.float64)
    occupancy = rng.uniform(0, 0.8, len(detectors))
    speed = rng.uniform(5, 60, len(detectors))
    state_s, fast = timed(lambda: state.compute_state(table, detector_link, count, occupancy, speed, 900.0), args.repeat)
    naive_state_s, slow = timed(lambda: state.naive_state(length, limit, classes, detector_link.tolist(), count.tolist(),
                                                          occupancy.tolist(), speed.tolist(), 900.0), args.repeat)
    same_state = bool(np.allclose(fast.tpi, [row[4] for row in slow]))  # type: ignore[union-attr, index]

    figures = {
        "junctions": len(retimer.junctions), "detectors": len(detectors), "links": len(link_ids),
        "arterial_links": len(model.arterials), "generate_s": round(generated, 2), "parse_s": round(parsed, 2),
        "build_problem_s": round(built, 3),
        "retime_s": round(retime_s, 4), "retime_naive_s": round(naive_s, 4),
        "retime_cycles_agree_with_naive": agree,
        "state_s": round(state_s, 4), "state_naive_s": round(naive_state_s, 4), "state_matches_naive": same_state,
        "plans": len(plans),  # type: ignore[arg-type]
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"city-scale network: {figures['junctions']} signalised junctions, {figures['detectors']} detectors, "
          f"{figures['links']} links (netgenerate {generated:.1f} s, sumolib {parsed:.1f} s, problem {built:.2f} s)")
    print(f"{'step':<44}{'vectorised':>12}{'naive':>12}{'speed-up':>10}")
    for label, fast_s, slow_s in (("retime all junctions (Webster + offsets)", retime_s, naive_s),
                                  ("state for 5,000 detectors (GB/T 33171)", state_s, naive_state_s)):
        print(f"{label:<44}{fast_s * 1000:>10.1f}ms{slow_s * 1000:>10.1f}ms{slow_s / max(fast_s, 1e-9):>9.1f}x")
    print(f"goals: retime < 2 s -> {'met' if retime_s < 2 else 'MISSED'}; state < 1 s -> {'met' if state_s < 1 else 'MISSED'}"
          f"; results agree with the baseline: {agree and same_state}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
