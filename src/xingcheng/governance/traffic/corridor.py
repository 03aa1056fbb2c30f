"""The demo corridor — 五一大道 and its cross streets in central Changsha — and its demand.

Written as plain SUMO XML (nodes, edges) and built with ``netconvert`` into
``data/wuyi_corridor.net.xml``; its signal programs are netconvert's defaults (90 s cycle, even
splits, no offsets), i.e. an untuned fixed-time baseline. The demand (``wuyi_corridor.rou.xml``)
is a two-hour morning (07:00–09:00) in 15-minute flows with from/to edges: eastbound peak into the
centre, then a direction switch to westbound, cross streets with their own peaks.

``python -m xingcheng.governance.traffic.corridor`` rebuilds both files (deterministic).
"""

from __future__ import annotations

import itertools
import math
import random
import re
import subprocess
import tempfile
from pathlib import Path

from xingcheng.governance.traffic.sumo import binary

DATA = Path(__file__).parent / "data"
NETWORK = DATA / "wuyi_corridor.net.xml"
ROUTES = DATA / "wuyi_corridor.rou.xml"
ORIGIN = (112.9665, 28.1960)  # lon/lat of x=0, y=0 (五一大道 × 湘江中路)
M_PER_DEG_LAT = 110_900.0

# Cross streets west → east: (name, x metres along 五一大道, lanes each way, speed km/h, weight)
CROSS_STREETS: list[tuple[str, str, float, int, int, float]] = [
    ("xjzl", "湘江中路", 0, 3, 50, 1.0),
    ("tpj", "太平街", 320, 1, 30, 0.25),
    ("swj", "三王街", 650, 1, 30, 0.25),
    ("hxzl", "黄兴中路", 1000, 2, 40, 0.6),
    ("cezl", "蔡锷中路", 1500, 3, 50, 0.9),
    ("dzj", "都正街", 1900, 1, 30, 0.3),
    ("frzl", "芙蓉中路", 2250, 3, 60, 1.0),
    ("jxl", "建湘路", 2700, 2, 40, 0.5),
    ("lcql", "浏城桥路", 2950, 1, 30, 0.3),
    ("ssbl", "韶山北路", 3300, 3, 50, 0.9),
    ("sgbl", "曙光北路", 3850, 2, 40, 0.5),
    ("czbl", "车站北路", 4400, 3, 50, 0.8),
]
MAIN = "五一大道"
MAIN_LANES, MAIN_SPEED = 3, 50
ARM = 400.0  # metres of each cross street north and south, and of 五一大道 beyond the ends


def lonlat(x: float, y: float) -> tuple[float, float]:
    per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1]))
    return (ORIGIN[0] + x / per_deg_lon, ORIGIN[1] + y / M_PER_DEG_LAT)


def _plain_xml() -> tuple[str, str]:
    nodes = ['<nodes>', f'  <node id="W" x="{-ARM}" y="0" type="priority"/>',
             f'  <node id="E" x="{CROSS_STREETS[-1][2] + ARM}" y="0" type="priority"/>']
    edges = ['<edges>']
    for key, _name, x, _lanes, _speed, _weight in CROSS_STREETS:
        nodes.append(f'  <node id="{key}" x="{x}" y="0" type="traffic_light" tlType="static"/>')
        nodes.append(f'  <node id="{key}_n" x="{x}" y="{ARM}" type="priority"/>')
        nodes.append(f'  <node id="{key}_s" x="{x}" y="{-ARM}" type="priority"/>')
    chain = ["W", *[street[0] for street in CROSS_STREETS], "E"]
    speed = MAIN_SPEED / 3.6
    for a, b in itertools.pairwise(chain):
        edges.append(f'  <edge id="{a}_{b}" from="{a}" to="{b}" numLanes="{MAIN_LANES}" speed="{speed:.2f}" name="{MAIN}"/>')
        edges.append(f'  <edge id="{b}_{a}" from="{b}" to="{a}" numLanes="{MAIN_LANES}" speed="{speed:.2f}" name="{MAIN}"/>')
    for key, name, _x, lanes, kmh, _weight in CROSS_STREETS:
        for end in ("n", "s"):
            attrs = f'numLanes="{lanes}" speed="{kmh / 3.6:.2f}" name="{name}"'
            edges.append(f'  <edge id="{key}_{end}_in" from="{key}_{end}" to="{key}" {attrs}/>')
            edges.append(f'  <edge id="{key}_{end}_out" from="{key}" to="{key}_{end}" {attrs}/>')
    nodes.append("</nodes>")
    edges.append("</edges>")
    return "\n".join(nodes), "\n".join(edges)


def build_network(target: Path = NETWORK) -> Path:
    """Run netconvert on the plain XML, then geo-reference the result (equirectangular at 28.2°N)."""
    nodes, edges = _plain_xml()
    with tempfile.TemporaryDirectory() as tmp:
        node_file, edge_file = Path(tmp) / "c.nod.xml", Path(tmp) / "c.edg.xml"
        node_file.write_text(nodes, encoding="utf-8")
        edge_file.write_text(edges, encoding="utf-8")
        subprocess.run([binary("netconvert"),  # noqa: S603 — our own binary and temp files "-n", str(node_file), "-e", str(edge_file), "-o", str(target),
                        "--no-turnarounds", "true", "--tls.default-type", "static", "--offset.disable-normalization",
                        "true", "--junctions.join", "false", "--no-warnings", "true"],
                       check=True, capture_output=True)
    text = target.read_text(encoding="utf-8")
    match = re.search(r'convBoundary="([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)"', text)
    if match is None:
        raise RuntimeError("netconvert wrote no location element")
    x0, y0, x1, y1 = (float(value) for value in match.groups())
    lon0, lat0 = lonlat(x0, y0)
    lon1, lat1 = lonlat(x1, y1)
    projection = f"+proj=eqc +lat_ts={ORIGIN[1]} +lon_0={ORIGIN[0]} +lat_0={ORIGIN[1]} +datum=WGS84 +units=m +no_defs"
    text = re.sub(r'origBoundary="[^"]*"', f'origBoundary="{lon0:.6f},{lat0:.6f},{lon1:.6f},{lat1:.6f}"', text, count=1)
    text = re.sub(r'projParameter="[^"]*"', f'projParameter="{projection}"', text, count=1)
    target.write_text(text, encoding="utf-8")
    return target


# Demand shape over the eight 15-minute slots of 07:00–09:00 (multipliers of the base rates).
EAST_PROFILE = [0.55, 0.8, 1.0, 1.05, 0.85, 0.55, 0.4, 0.35]  # into the centre, morning peak
WEST_PROFILE = [0.3, 0.35, 0.4, 0.55, 0.8, 1.0, 1.05, 0.9]  # the direction switch
CROSS_PROFILE = [0.6, 0.8, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6]
SLOT_S = 900


def build_routes(target: Path = ROUTES, *, seed: int = 20261125) -> Path:
    """Flows with from/to edges, 15-minute slots, deterministic for a seed."""
    rng = random.Random(seed)
    first, last = CROSS_STREETS[0][0], CROSS_STREETS[-1][0]
    lines = ['<routes>', '  <vType id="car" vClass="passenger" length="5" minGap="2.5" accel="2.6" decel="4.5" sigma="0.5"/>']
    flows: list[tuple[int, str]] = []
    counter = 0

    def flow(slot: int, origin: str, destination: str, rate: float) -> None:
        nonlocal counter
        if rate < 6:
            return
        begin, end = slot * SLOT_S, (slot + 1) * SLOT_S
        flows.append((begin, f'  <flow id="f{counter}" type="car" begin="{begin}" end="{end}" from="{origin}" '
                             f'to="{destination}" vehsPerHour="{rate:.0f}" departLane="best" departSpeed="max"/>'))
        counter += 1

    east_in, east_out, west_in, west_out = f"W_{first}", f"{last}_E", f"E_{last}", f"{first}_W"
    for slot in range(len(EAST_PROFILE)):
        east, west, cross = EAST_PROFILE[slot], WEST_PROFILE[slot], CROSS_PROFILE[slot]
        # Through traffic on 五一大道 (the dominant direction switches half-way).
        flow(slot, east_in, east_out, 1250 * east)
        flow(slot, west_in, west_out, 1250 * west)
        for key, _name, _x, _lanes, _speed, weight in CROSS_STREETS:
            jitter = 0.9 + 0.2 * rng.random()
            # Cross-street through traffic, north- and southbound.
            flow(slot, f"{key}_n_in", f"{key}_s_out", 260 * weight * cross * jitter)
            flow(slot, f"{key}_s_in", f"{key}_n_out", 230 * weight * cross * jitter)
            # Turning onto 五一大道 follows the main-street peak; off it likewise.
            flow(slot, f"{key}_s_in", east_out, 110 * weight * east)
            flow(slot, f"{key}_n_in", west_out, 90 * weight * west)
            flow(slot, east_in, f"{key}_n_out", 70 * weight * east)
            flow(slot, west_in, f"{key}_s_out", 60 * weight * west)
    flows.sort(key=lambda item: item[0])
    lines += [text for _begin, text in flows]
    lines.append("</routes>")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    print(build_network(), build_routes())
