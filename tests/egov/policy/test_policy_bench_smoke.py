"""A small run of ``bench/policy.py`` (the benchmark itself is not part of the suite): both methods
run on the same synthetic register and agree on every sampled (enterprise, policy) pair."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "policy.py"


def test_the_bench_code_path_runs_and_both_methods_agree():
    spec = importlib.util.spec_from_file_location("policy_bench", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.run(3_000, 120, 300, 7)
    assert report["enterprises"] == 3_000 and report["policies"] == 120 and report["sample"] == 300
    assert report["sample_pairs_compared"] == 300 * 120
    assert report["disagreements"] == 0
    assert report["qualified_pairs"] > 0 and report["near_miss_pairs"] > report["qualified_pairs"]
