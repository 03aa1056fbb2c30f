"""The router: held-out accuracy, typical 12345 wordings, typos, confidence, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xingcheng.cli import app
from xingcheng.governance.requests.categories import CATEGORIES, by_code
from xingcheng.governance.requests.classifier import RequestRouter, TrainingExample, evaluate, get_router, shipped_examples

EVAL_FILE = Path(__file__).parents[2] / "data" / "requests_eval.jsonl"


def _eval_pairs() -> list[tuple[str, str]]:
    return [(item["text"], item["department_code"]) for item in map(json.loads, EVAL_FILE.read_text(encoding="utf-8").splitlines())]


def test_evaluation_set_is_held_out_and_large_enough():
    pairs = _eval_pairs()
    assert len(pairs) >= 400
    training = {e.text for e in shipped_examples()}
    assert not training & {text for text, _ in pairs}
    known = {c.department_code for c in CATEGORIES}
    assert {code for _, code in pairs} <= known


def test_department_accuracy_on_held_out_requests_is_at_least_90_percent():
    result = evaluate(get_router(), _eval_pairs())
    assert result.accuracy >= 0.90, result.mistakes[:20]
    # No department is systematically lost.
    assert min(v["recall"] for v in result.per_department.values() if v["n"] >= 5) >= 0.6


@pytest.mark.parametrize(("text", "department"), [
    ("楼下烧烤摊油烟太大熏得睡不着", "cgj"),
    ("小区门口垃圾好几天没人收了", "cgj"),
    ("楼上每天半夜蹦迪，燥音太大", "gaj"),  # 燥音: a typo for 噪音
    ("社宝卡丢了怎么补办", "sbj"),  # 社宝: a typo for 社保
    ("老板欠了我三个月工资", "rsj"),
    ("家里停水了也没通知", "sw"),
    ("电梯又把人关在里面了", "scj"),
    ("工厂晚上偷偷排放废气，一股刺鼻的味道", "sthj"),
])
def test_typical_requests_reach_the_right_department(text: str, department: str):
    route = get_router().route(text)
    assert route.department_code == department
    assert by_code()[route.category_code].department_code == department
    assert 0.0 < route.confidence <= 1.0


def test_confidence_is_lower_for_text_with_no_signal():
    router = get_router()
    vague = router.route("你好，我想问一下")
    clear = router.route("路边的井盖不见了，晚上很危险")
    assert vague.confidence < clear.confidence
    assert vague.confidence < 0.45


def test_router_refuses_unknown_categories_in_training_data():
    with pytest.raises(ValueError, match="unknown categories"):
        RequestRouter([TrainingExample("随便一句话", "NOPE")])


def test_cli_route_json():
    result = CliRunner().invoke(app, ["requests", "route", "楼下烧烤摊油烟太大熏得睡不着", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["department_code"] == "cgj"
    assert payload["category_code"] == "CG-BBQ"


def test_cli_route_refuses_empty_text():
    result = CliRunner().invoke(app, ["requests", "route", "   "])
    assert result.exit_code == 1
    assert "empty" in result.output
    assert "Traceback" not in result.output


def test_cli_eval_json_prints_only_the_figures(tmp_path: Path):
    sample = tmp_path / "sample.jsonl"
    lines = [{"text": "家里停电了", "department_code": "gdj"}, {"text": "公交车不停站", "department_code": "gjjt"},
             {"text": "燃气泄漏了有股味道", "department_code": "rqgs"}, {"text": "公积金怎么提取", "department_code": "cgj"}]
    sample.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["requests", "eval", str(sample), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"n", "accuracy", "per_department"}
    assert payload["n"] == 4
    assert payload["accuracy"] == 0.75  # the last line is labelled wrongly on purpose
    assert payload["per_department"]["cgj"] == 0.0
    assert payload["per_department"]["gdj"] == 1.0


def test_cli_eval_reports_a_bad_line_in_one_line(tmp_path: Path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "停电了", "department_code": "gdj"}\nnot json\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["requests", "eval", str(bad), "--json"])
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output
    assert "Traceback" not in result.output
