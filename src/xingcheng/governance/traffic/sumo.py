"""Reading SUMO networks (sumolib): junction signals, approach lanes, arterials, geometry.

The platform and the simulator share the same roads: ``read_network`` turns a ``.net.xml`` into
plain dataclasses that ``service.import_network`` stores and ``evaluate`` retimes.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xingcheng.core.errors import Invalid
from xingcheng.governance.traffic.signals import ArterialCandidate, JunctionSignals, Phase

VEHICLE_CLASSES = ("passenger", "bus", "truck", "delivery", "taxi", "evehicle", "private")
MAX_ARTERIAL_GAP_M = 1000.0  # a green wave is pointless beyond this spacing


def sumo_home() -> Path:
    """``SUMO_HOME`` (set from the ``sumo`` wheel when unset) so sumolib finds the binaries."""
    spec = importlib.util.find_spec("sumo")
    if not os.environ.get("SUMO_HOME") and (spec is None or spec.origin is None):
        raise Invalid("SUMO is not installed: pip install eclipse-sumo (or set SUMO_HOME)")
    home = Path(os.environ.get("SUMO_HOME") or Path(str(spec.origin if spec else "")).parent)
    os.environ["SUMO_HOME"] = str(home)
    return home


def binary(name: str) -> str:
    return str(sumo_home() / "bin" / name)


@dataclass
class LaneInfo:
    id: str
    edge: str
    length: float
    speed: float  # m/s


@dataclass
class RoadLink:
    """A directed road (SUMO edge) with what the platform stores about it."""

    id: str
    name: str
    from_node: str
    to_node: str
    length: float
    lanes: int
    speed: float  # m/s
    shape: list[tuple[float, float]]  # lon/lat when the net is geo-referenced, else x/y


@dataclass
class NetworkModel:
    path: Path
    junctions: list[JunctionSignals]
    approach_lanes: dict[str, LaneInfo]  # every vehicle lane that enters a signalised junction
    arterials: list[ArterialCandidate]
    links: list[RoadLink] = field(default_factory=list)
    junction_positions: dict[str, tuple[float, float]] = field(default_factory=dict)
    junction_names: dict[str, str] = field(default_factory=dict)
    geo: bool = False


def _active_program(tls: Any) -> Any:
    programs = tls.getPrograms()
    if not programs:
        return None
    return programs.get("0") or next(iter(programs.values()))


def _allows_vehicles(lane: Any) -> bool:
    return any(lane.allows(vclass) for vclass in VEHICLE_CLASSES)


class _Geo:
    """Linear map from net x/y to lon/lat using the net's conv/orig boundaries (city-scale accuracy)."""

    def __init__(self, net: Any) -> None:
        location = getattr(net, "_location", {}) or {}
        self.enabled = False
        try:
            conv = [float(v) for v in str(location.get("convBoundary", "")).split(",")]
            orig = [float(v) for v in str(location.get("origBoundary", "")).split(",")]
            offset = [float(v) for v in str(location.get("netOffset", "0,0")).split(",")]
        except ValueError:
            return
        projected = str(location.get("projParameter", "!")) != "!"
        if len(conv) == 4 and len(orig) == 4 and projected and -180 <= orig[0] <= 180 and -90 <= orig[1] <= 90:
            self.conv, self.orig, self.offset = conv, orig, offset
            self.enabled = orig[2] > orig[0] and orig[3] > orig[1]

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        if not self.enabled:
            return (round(x, 2), round(y, 2))
        # The orig boundary spans the conv boundary shifted back by netOffset.
        x0, y0 = self.conv[0], self.conv[1]
        x1, y1 = self.conv[2], self.conv[3]
        fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.0
        fy = (y - y0) / (y1 - y0) if y1 > y0 else 0.0
        return (round(self.orig[0] + fx * (self.orig[2] - self.orig[0]), 6),
                round(self.orig[1] + fy * (self.orig[3] - self.orig[1]), 6))


def read_network(path: Path, *, with_links: bool = True) -> NetworkModel:
    """Parse a SUMO network: every signalised junction's active program, its approach lanes, the
    arterial candidates between neighbouring signals, and (optionally) every road for the map."""
    sumo_home()
    import sumolib

    if not path.is_file():
        raise Invalid(f"network file not found: {path}")
    try:
        net = sumolib.net.readNet(str(path), withPrograms=True, withPedestrianConnections=True)
    except Exception as error:  # sumolib raises plain SAX/parse errors
        raise Invalid(f"cannot read SUMO network {path.name}: {error}") from error
    geo = _Geo(net)
    junctions: list[JunctionSignals] = []
    approach: dict[str, LaneInfo] = {}
    tls_of_node: dict[str, str] = {}
    out_links: dict[str, list[tuple[int, str]]] = {}  # tls -> (link index, outgoing edge id)
    positions: dict[str, tuple[float, float]] = {}
    names: dict[str, str] = {}
    for tls in net.getTrafficLights():
        program = _active_program(tls)
        if program is None:
            continue
        connections = tls.getConnections()
        size = max((link for _in, _out, link in connections), default=-1) + 1
        link_lanes: list[str | None] = [None] * size
        crossings: dict[int, float] = {}
        nodes: list[Any] = []
        for in_lane, out_lane, link in connections:
            in_edge, out_edge = in_lane.getEdge(), out_lane.getEdge()
            function = in_edge.getFunction()
            if out_edge.getFunction() == "crossing" or function in ("walkingarea", "crossing"):
                crossings[link] = max(crossings.get(link, 0.0), float(out_lane.getLength()))
                continue
            if function == "internal" or not _allows_vehicles(in_lane):
                continue
            link_lanes[link] = in_lane.getID()
            approach[in_lane.getID()] = LaneInfo(in_lane.getID(), in_edge.getID(), float(in_lane.getLength()),
                                                 float(in_lane.getSpeed()))
            node = in_edge.getToNode()
            tls_of_node[node.getID()] = tls.getID()
            nodes.append(node)
            out_links.setdefault(tls.getID(), []).append((link, out_edge.getID()))
        phases = [Phase(state=phase.state, duration=float(phase.duration)) for phase in program.getPhases()]
        if not phases or not any(lane for lane in link_lanes):
            continue
        offset = float(program.getOffset() or 0.0) if hasattr(program, "getOffset") else 0.0
        junctions.append(JunctionSignals(key=tls.getID(), phases=phases, link_lanes=link_lanes,
                                         crossing_lengths=crossings, offset=offset))
        if nodes:
            xs = [n.getCoord()[0] for n in nodes]
            ys = [n.getCoord()[1] for n in nodes]
            positions[tls.getID()] = geo(sum(xs) / len(xs), sum(ys) / len(ys))
            street_names = sorted({edge.getName() for n in nodes for edge in n.getIncoming() if edge.getName()})
            names[tls.getID()] = " / ".join(street_names[:2])
    by_key = {junction.key: junction for junction in junctions}
    arterials = _arterials(net, by_key, tls_of_node, out_links)
    links: list[RoadLink] = []
    if with_links:
        for edge in net.getEdges(withInternal=False):
            if edge.getFunction() not in ("", "normal") or not any(_allows_vehicles(lane) for lane in edge.getLanes()):
                continue
            links.append(RoadLink(
                id=edge.getID(), name=edge.getName() or "", from_node=edge.getFromNode().getID(),
                to_node=edge.getToNode().getID(), length=float(edge.getLength()), lanes=edge.getLaneNumber(),
                speed=float(edge.getSpeed()), shape=[geo(x, y) for x, y in edge.getShape()],
            ))
    return NetworkModel(path=path, junctions=junctions, approach_lanes=approach, arterials=arterials,
                        links=links, junction_positions=positions, junction_names=names, geo=geo.enabled)


def _arterials(net: Any, junctions: dict[str, JunctionSignals], tls_of_node: dict[str, str],
               out_links: dict[str, list[tuple[int, str]]]) -> list[ArterialCandidate]:
    """Roads between neighbouring signals: walk upstream from each approach through unsignalised
    pass-through nodes until a signal (or ``MAX_ARTERIAL_GAP_M``)."""
    candidates: list[ArterialCandidate] = []
    for key, junction in junctions.items():
        lanes_by_edge: dict[str, list[str]] = {}
        for lane in junction.link_lanes:
            if lane is not None:
                lanes_by_edge.setdefault(net.getLane(lane).getEdge().getID(), []).append(lane)
        for edge_id, lanes in lanes_by_edge.items():
            edge = net.getEdge(edge_id)
            distance, travel = edge.getLength(), edge.getLength() / max(edge.getSpeed(), 1.0)
            current = edge
            upstream: str | None = None
            while distance <= MAX_ARTERIAL_GAP_M:
                node = current.getFromNode()
                owner = tls_of_node.get(node.getID())
                if owner is not None:
                    upstream = owner if owner != key else None
                    break
                incoming = [e for e in node.getIncoming()
                            if e.getFunction() in ("", "normal") and e.getFromNode() != current.getToNode()]
                if len(incoming) != 1:
                    break
                current = incoming[0]
                distance += current.getLength()
                travel += current.getLength() / max(current.getSpeed(), 1.0)
            if upstream is None or upstream not in junctions or distance > MAX_ARTERIAL_GAP_M:
                continue
            feeding = {link for link, out_edge in out_links.get(upstream, []) if out_edge == current.getID()}
            up = junctions[upstream]
            best, best_score = -1, 0
            for index in up.green_phases():
                state = up.phases[index].state
                score = sum(1 for link in feeding if link < len(state) and state[link] == "G")
                if score > best_score:
                    best, best_score = index, score
            if best < 0:
                continue
            candidates.append(ArterialCandidate(upstream=upstream, upstream_phase=best, downstream=key,
                                                downstream_lanes=tuple(sorted(set(lanes))),
                                                travel_time=round(travel, 1)))
    return candidates
