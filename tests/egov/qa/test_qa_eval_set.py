"""Accuracy on the labelled sets, measured through the same code path as ``xingcheng qa eval``:
the demo city's catalogue, implementation lists and FAQ from the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from xingcheng.egov.qa import service
from xingcheng.egov.qa.cli import read_labelled

DATA = Path(__file__).resolve().parents[2] / "data"


def rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_labelled_set_is_big_enough_and_labels_exist(db):
    dev, held_out = rows("qa_dev.jsonl"), rows("qa_heldout.jsonl")
    assert len(dev) + len(held_out) >= 300
    assert not {r["question"] for r in dev} & {r["question"] for r in held_out}
    bundle = service.get_index(db)
    assert {r["item_code"] for r in dev + held_out} <= set(bundle.facts)


@pytest.mark.parametrize(("name", "top1", "top3"), [("qa_dev.jsonl", 0.95, 0.99), ("qa_heldout.jsonl", 0.95, 0.98)])
def test_accuracy_on_labelled_questions(db, name, top1, top3):
    report = service.evaluate(service.get_index(db), rows(name))
    assert report.n == len(rows(name))
    assert report.top1 >= top1, report.misses
    assert report.top3 >= top3, report.misses
    assert report.top1 <= report.top3 and report.top1 <= report.mrr <= 1


def test_database_and_shipped_catalogue_answer_alike(db):
    """The CLI's fallback for a data directory without a city answers like the loaded city."""
    sample = rows("qa_dev.jsonl")[:60]
    from_db = service.evaluate(service.get_index(db), sample)
    from_package = service.evaluate(service.bundle_from_package(), sample)
    assert from_db.top1 == from_package.top1 and from_db.misses == from_package.misses


def test_eval_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "公积金"}\n', encoding="utf-8")
    with pytest.raises(typer.BadParameter, match="line 1"):
        read_labelled(bad)
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(typer.BadParameter, match="not JSON"):
        read_labelled(bad)
