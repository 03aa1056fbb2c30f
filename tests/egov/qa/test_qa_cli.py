"""``xingcheng qa eval`` and ``qa ask`` against a data directory holding the demo city, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "data"


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XC_DATABASE_URL"}
    env["XC_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "xingcheng.cli", "qa", *args], env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_eval_json_prints_only_the_figures(template_dir, tmp_path):
    city = tmp_path / "city"
    shutil.copytree(template_dir, city)
    result = run_cli(city, "eval", str(DATA / "qa_dev.jsonl"), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {"n", "top1", "top3", "mrr"}
    assert figures["n"] == sum(1 for line in (DATA / "qa_dev.jsonl").read_text(encoding="utf-8").splitlines() if line)
    assert figures["top1"] >= 0.95 and figures["top3"] >= 0.99

    asked = run_cli(city, "ask", "岳麓区身份证丢了怎么补", "--json")
    assert asked.returncode == 0, asked.stderr
    body = json.loads(asked.stdout)
    assert body["answers"][0]["item_code"] == "CS-GAJ-0003"
    assert body["answers"][0]["where"]["division_name"] == "岳麓区"

    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json}\n", encoding="utf-8")
    failed = run_cli(city, "eval", str(broken))
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "line 1" in failed.stderr
