"""The catalogue facts read straight from the shipped CSV, so tests check the API against the source."""

from __future__ import annotations

import csv
from importlib import resources


def catalogue_rows() -> list[dict[str, str]]:
    text = resources.files("xingcheng.egov.services").joinpath("data", "service_items.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))
