"""A few simulated minutes of ``traffic evaluate`` on a small generated grid (the long runs are a
benchmark, not a test): both runs happen, the adaptive one retimes, ``--json`` prints only JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xingcheng.governance.traffic.evaluate import METRICS, evaluate
from xingcheng.governance.traffic.sumo import binary, read_network


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("sumo")
    network = directory / "grid.net.xml"
    subprocess.run([binary("netgenerate"), "--grid", "--grid.number", "3", "--grid.length", "200",
                    "--grid.attach-length", "100", "-L", "2", "--tls.guess", "true", "--default-junction-type",
                    "traffic_light", "--no-warnings", "true", "-o", str(network)], check=True, capture_output=True)
    model = read_network(network)
    fringe = [road.id for road in model.links if road.from_node.startswith("left") or road.from_node.startswith("bottom")]
    exits = [road.id for road in model.links if road.to_node.startswith("right") or road.to_node.startswith("top")]
    routes = directory / "demand.rou.xml"
    # Flows with from/to edges only (SUMO routes them), heavier west→east than south→north.
    flows = [f'<flow id="f{i}" begin="0" end="600" from="{origin}" to="{exits[i % len(exits)]}" '
             f'vehsPerHour="{300 if origin.startswith("left") else 80}"/>' for i, origin in enumerate(fringe)]
    routes.write_text("<routes>\n" + "\n".join(flows) + "\n</routes>\n", encoding="utf-8")
    return network, routes


def test_network_import_reads_signals_approaches_and_arterials(small_grid):
    model = read_network(small_grid[0])
    assert len(model.junctions) >= 9  # the attached fringe nodes are signalised too
    assert all(j.green_phases() for j in model.junctions)
    assert len(model.approach_lanes) >= 9 * 4
    assert model.arterials and all(a.upstream != a.downstream for a in model.arterials)


def test_evaluate_runs_fixed_and_adaptive_on_the_same_demand(small_grid):
    result = evaluate(*small_grid, hours=0.12, interval=120)
    assert set(result) == {"fixed", "adaptive", "change_pct"}
    for part in ("fixed", "adaptive"):
        assert set(METRICS) <= set(result[part])
        assert result[part]["vehicles"] > 50 and result[part]["throughput"] > 0
    # Same demand and seed: the same vehicles are loaded in both runs.
    assert result["fixed"]["vehicles"] == result["adaptive"]["vehicles"]
    assert set(result["change_pct"]) == set(METRICS)


def test_cli_json_prints_one_object_and_nothing_else(small_grid):
    command = [str(Path(sys.executable).parent / "xingcheng"), "traffic", "evaluate", "--network", str(small_grid[0]),
               "--routes", str(small_grid[1]), "--hours", "0.05", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(done.stdout)
    assert set(payload) == {"fixed", "adaptive", "change_pct"}
    missing = subprocess.run([*command[:4], "/nonexistent.net.xml", *command[5:]], capture_output=True, text=True,
                             timeout=120, check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
