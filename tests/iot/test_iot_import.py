"""Bulk registration from CSV/JSON through the service and `xingcheng iot import`; the demo sensor network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from xingcheng.core.errors import Invalid
from xingcheng.iot import catalogue
from xingcheng.iot.importer import import_things, read_file
from xingcheng.iot.models import Datastream, Thing

HEADER = "key,name,kind,division_code,lon,lat,install_date,properties\n"
ROWS = (
    "t-aq-1,测试空气站1,air_quality_station,430104,112.93,28.21,2024-05-01,\n"
    "t-gs-1,测试燃气监测1,gas_sensor,430102,113.01,28.19,,\n"
    "t-im-1,测试机床1,industrial_machine,430121,113.25,28.25,2023-01-09,temperature;power\n"
)


def test_a_csv_registers_things_and_one_datastream_per_property(db, tmp_path):
    path = tmp_path / "things.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    report = import_things(db, table=read_file(path))
    assert (report.things, report.datastreams, report.skipped) == (3, 3 + 1 + 2, 0)
    streams = dict(db.execute(select(Datastream.key, Datastream.valid_max).where(Datastream.key.like("t-%"))).all())
    assert set(streams) == {"t-aq-1/pm25", "t-aq-1/pm10", "t-aq-1/no2", "t-gs-1/methane_lel", "t-im-1/temperature",
                            "t-im-1/power"}
    assert streams["t-aq-1/pm25"] == catalogue.properties()["pm25"].max
    gas = db.scalar(select(Thing).where(Thing.key == "t-gs-1"))
    assert gas.department_code == "rqgs" and gas.install_date is not None  # defaults from the kind and today
    again = import_things(db, table=read_file(path))
    assert (again.things, again.datastreams, again.skipped) == (0, 0, 3)


def test_json_lists_are_accepted(db, tmp_path):
    path = tmp_path / "things.json"
    path.write_text(json.dumps([{"key": "t-pk-1", "name": "泊位1", "kind": "parking_sensor", "division_code": "430103",
                                 "lon": 112.99, "lat": 28.11, "properties": ["occupied"]}]), encoding="utf-8")
    assert import_things(db, table=read_file(path)).datastreams == 1


def test_invalid_rows_fail_the_whole_file_with_row_numbers(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + ROWS + "t-x-1,坏,spaceship,430104,112.9,28.2,,\nt-x-2,坏,noise_meter,110101,100.0,28.2,,\n",
                    encoding="utf-8")
    before = db.scalar(select(func.count()).select_from(Thing))
    with pytest.raises(Invalid) as caught:
        import_things(db, table=read_file(path))
    assert "rows 5" in caught.value.detail and "rows 6" in caught.value.detail
    assert db.scalar(select(func.count()).select_from(Thing)) == before


def test_the_cli_imports_a_file_and_reports_json(tmp_path):
    path = tmp_path / "things.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "XC_DATABASE_URL"}
    env["XC_DATA_DIR"] = str(tmp_path / "data")
    exe = str(Path(sys.executable).with_name("xingcheng"))
    subprocess.run([exe, "demo", "load"], env=env, capture_output=True, timeout=300, check=True)
    result = subprocess.run([exe, "iot", "import", str(path), "--json"], env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["datastreams"] == 6


def test_the_demo_network_covers_the_nine_districts_inside_the_city(db):
    # The sensing demo's own things (the traffic corridor registers its detectors as tdx-… things).
    rows = db.execute(select(Thing.division_code, Thing.lon, Thing.lat).where(Thing.key.not_like("tdx-%"))).all()
    assert 250 <= len(rows) <= 400
    assert len({r[0] for r in rows}) == 9
    min_lon, min_lat, max_lon, max_lat = catalogue.CITY_BOUNDS
    assert all(min_lon <= r[1] <= max_lon and min_lat <= r[2] <= max_lat for r in rows)
