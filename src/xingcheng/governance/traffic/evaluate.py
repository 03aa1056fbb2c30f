"""Fixed-time vs adaptive: the same SUMO demand and seed run twice (``xingcheng traffic evaluate``).

* **fixed** — the network file's own signal programs, untouched.
* **adaptive** — the platform's 15-minute retiming (``signals.NetworkRetimer``: Webster cycle and
  splits, coordination offsets) fed by detectors this module places itself on every vehicle
  approach lane of every signalised junction: an induction loop at the stop line (departures)
  and a lane-area detector over the last ≤ 120 m (queue). Demand per lane and interval =
  departures + queue growth (conservation), boosted while the queue fills the detector.

Both runs carry the same detectors (detectors do not change traffic). They run in two processes
in parallel through libsumo. Metrics come from SUMO's tripinfo output, unfinished vehicles
included so that a plan which strands traffic is not flattered: delay = time loss + insertion
delay; travel time, speed over finished trips; stops = SUMO's ``waitingCount``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xingcheng.core.errors import Invalid
from xingcheng.governance.traffic.controller import PlanCommand, TraciController
from xingcheng.governance.traffic.retiming import RetimingLimits
from xingcheng.governance.traffic.signals import NetworkRetimer, Phase
from xingcheng.governance.traffic.sumo import NetworkModel, binary, read_network

INTERVAL_S = 900
QUEUE_WINDOW_S = 180  # queue sampled over the last part of each interval (≥ one cycle)
VEHICLE_SPACING_M = 7.5  # jam spacing used to turn detector length into a queue capacity
METRICS = ("mean_delay_s", "mean_travel_time_s", "mean_speed_kmh", "mean_stops", "throughput")


@dataclass(frozen=True)
class RunConfig:
    network: str
    routes: str
    detectors: str
    tripinfo: str
    end: int
    seed: int
    adaptive: bool
    interval: int = INTERVAL_S
    coordinate: bool = True


def _detector_file(model: NetworkModel, path: Path) -> tuple[list[str], list[str]]:
    loops, areas = [], []
    lines = ["<additional>"]
    for index, lane in enumerate(sorted(model.approach_lanes.values(), key=lambda item: item.id)):
        e1, e2 = f"xc_e1_{index}", f"xc_e2_{index}"
        position = max(0.1, lane.length - 1.5)
        start = max(0.0, lane.length - 120.0)
        end = max(start + 0.5, lane.length - 0.5)
        # period far beyond any run: the interval counters never reset, so differences are exact.
        lines.append(f'  <inductionLoop id="{e1}" lane="{_xml(lane.id)}" pos="{position:.2f}" period="1000000" file="NUL"/>')
        lines.append(f'  <laneAreaDetector id="{e2}" lane="{_xml(lane.id)}" pos="{start:.2f}" endPos="{end:.2f}" '
                     f'period="1000000" file="NUL"/>')
        loops.append(e1)
        areas.append(e2)
    lines.append("</additional>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return loops, areas


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _sumo_args(config: RunConfig) -> list[str]:
    return [
        binary("sumo"), "-n", config.network, "-r", config.routes, "-a", config.detectors,
        "--begin", "0", "--end", str(config.end), "--seed", str(config.seed),
        "--tripinfo-output", config.tripinfo, "--tripinfo-output.write-unfinished", "true",
        "--no-step-log", "true", "--no-warnings", "true", "--duration-log.disable", "true",
        "--ignore-route-errors", "true", "--time-to-teleport", "300",
    ]


def _simulate(config: RunConfig) -> dict[str, float]:
    """One run in a child process (libsumo allows one simulation per process)."""
    os.dup2(2, 1)  # libsumo and SUMO print to stdout; keep the parent's --json output clean
    import libsumo

    model = read_network(Path(config.network), with_links=False)
    lanes = sorted(model.approach_lanes.values(), key=lambda item: item.id)
    libsumo.start(_sumo_args(config))
    try:
        if not config.adaptive:
            while libsumo.simulation.getTime() < config.end:
                libsumo.simulationStep()
        else:
            _run_adaptive(libsumo, model, lanes, config)
    finally:
        libsumo.close()
    return summarise(Path(config.tripinfo), end=config.end)


def _run_adaptive(libsumo: Any, model: NetworkModel, lanes: list[Any], config: RunConfig) -> None:
    import numpy as np

    retimer = NetworkRetimer(model.junctions, RetimingLimits())
    lane_index = {lane.id: i for i, lane in enumerate(lanes)}
    loops = [f"xc_e1_{i}" for i in range(len(lanes))]
    areas = [f"xc_e2_{i}" for i in range(len(lanes))]
    capacity = np.array([max(1.0, libsumo.lanearea.getLength(a) / VEHICLE_SPACING_M) for a in areas])
    detector_lane = np.array([lane_index[lane] for _key, lane in retimer.detectors], dtype=np.int64)
    last_counts = np.zeros(len(lanes))
    last_queue = np.zeros(len(lanes))
    queue_sum = np.zeros(len(lanes))
    samples = 0
    controller = TraciController(libsumo)
    phases = {j.key: j.phases for j in retimer.junctions}
    version = 0
    while libsumo.simulation.getTime() < config.end:
        libsumo.simulationStep()
        now = round(libsumo.simulation.getTime())
        position = now % config.interval
        if position == 0 or position > config.interval - QUEUE_WINDOW_S:
            queue_sum += [libsumo.lanearea.getLastStepHaltingNumber(a) for a in areas]
            samples += 1
        if position != 0 or now >= config.end:
            continue
        counts = np.array([libsumo.inductionloop.getIntervalVehicleNumber(e) for e in loops], dtype=np.float64)
        departures = counts - last_counts
        queue = queue_sum / max(samples, 1)
        arrivals = np.maximum(departures + (queue - last_queue), 0.0)
        saturated = queue >= 0.6 * capacity
        demand_lane = np.where(saturated, np.maximum(arrivals, departures) * 1.25, arrivals) * 3600.0 / config.interval
        last_counts, last_queue = counts, queue
        queue_sum[:] = 0.0
        samples = 0
        plans = retimer.retime(demand_lane[detector_lane], model.arterials, coordinate_arterials=config.coordinate)
        version += 1
        for plan in plans:
            try:
                controller.apply(PlanCommand(
                    intersection=plan.key, version=version, offset_s=plan.offset, at_s=now,
                    phases=[Phase(p.state, d) for p, d in zip(phases[plan.key], plan.durations, strict=True)]))
            except (ValueError, libsumo.TraCIException):
                # The simulator runs another program than the file's first (e.g. an added one): keep it.
                continue


def summarise(tripinfo: Path, *, end: float) -> dict[str, float]:
    """Trip statistics from a tripinfo file (finished and unfinished vehicles)."""
    delay_total, count = 0.0, 0
    travel, distance, stops, arrived = 0.0, 0.0, 0.0, 0
    # SUMO's own output file in our temporary directory, not untrusted input.
    for _event, element in ET.iterparse(tripinfo, events=("end",)):  # noqa: S314
        if element.tag != "tripinfo":
            continue
        finished = float(element.get("arrival", "-1")) >= 0 and not element.get("vaporized")
        time_loss = float(element.get("timeLoss", "0"))
        depart_delay = float(element.get("departDelay", "0"))
        delay_total += time_loss + max(depart_delay, 0.0)
        stops += float(element.get("waitingCount", "0"))
        count += 1
        if finished:
            arrived += 1
            travel += float(element.get("duration", "0"))
            distance += float(element.get("routeLength", "0"))
        element.clear()
    if count == 0:
        raise Invalid("the simulation produced no trips: check the route file's edges and times")
    return {
        "mean_delay_s": round(delay_total / count, 2),
        "mean_travel_time_s": round(travel / arrived, 2) if arrived else math.nan,
        "mean_speed_kmh": round(distance / travel * 3.6, 2) if travel > 0 else math.nan,
        "mean_stops": round(stops / count, 3),
        "throughput": float(arrived),
        "vehicles": float(count),
    }


def change_pct(fixed: dict[str, float], adaptive: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in METRICS:
        base = fixed[key]
        out[key] = round((adaptive[key] - base) / base * 100.0, 1) if base else 0.0
    return out


def evaluate(network: Path, routes: Path, *, hours: float, seed: int = 42, coordinate: bool = True,
             parallel: bool = True, interval: int = INTERVAL_S) -> dict[str, dict[str, float]]:
    """Run fixed and adaptive on the same demand and seed; figures for both and the change in %."""
    if hours <= 0 or hours > 24:
        raise Invalid("--hours must be between 0 and 24")
    if not routes.is_file():
        raise Invalid(f"route file not found: {routes}")
    model = read_network(network, with_links=False)
    if not model.junctions:
        raise Invalid(f"{network.name} has no signalised junction with a program to retime")
    end = round(hours * 3600)
    with tempfile.TemporaryDirectory(prefix="xc-traffic-") as tmp:
        work = Path(tmp)
        detectors = work / "detectors.add.xml"
        _detector_file(model, detectors)
        configs = [
            RunConfig(str(network.resolve()), str(routes.resolve()), str(detectors), str(work / f"{name}.xml"),
                      end, seed, adaptive=name == "adaptive", interval=interval, coordinate=coordinate)
            for name in ("fixed", "adaptive")
        ]
        if parallel:
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                fixed, adaptive = pool.map(_simulate, configs)
        else:
            fixed, adaptive = (_run_in_child(config) for config in configs)
    return {"fixed": fixed, "adaptive": adaptive, "change_pct": change_pct(fixed, adaptive)}


def _run_in_child(config: RunConfig) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_simulate, (config,))
