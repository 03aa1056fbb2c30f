"""The open-data demo: 500+ published L1 datasets with realistic titles; some L1 left unpublished."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.opendata.demo import entries, topic_table
from xingcheng.datahub.opendata.models import OpenPackage, OpenResource
from xingcheng.datahub.opendata.service import public_ids


def test_demo_portal(db):
    public = db.scalar(select(func.count()).select_from(public_ids().subquery()))
    assert public >= 500
    grades = set(db.scalars(select(Dataset.grade).join(OpenPackage, OpenPackage.dataset_id == Dataset.id)))
    assert grades == {"L1"}
    unpublished = db.scalar(select(func.count()).select_from(Dataset).where(
        Dataset.grade == "L1", Dataset.id.not_in(select(OpenPackage.dataset_id))))
    assert unpublished > 0
    assert db.scalar(select(func.count()).select_from(OpenResource)) == 3 * public
    departments = db.scalar(select(func.count(func.distinct(Dataset.owner_department_code))).where(Dataset.id.in_(public_ids())))
    assert departments >= 40
    titles = set(db.scalars(select(Dataset.title).where(Dataset.id.in_(public_ids()))))
    for title in ("长沙市公共厕所分布", "长沙市公交站点", "长沙市停车场", "长沙市幼儿园名录", "长沙市空气质量日报",
                  "长沙市政府采购公告", "长沙市岳麓区公共厕所分布"):
        assert title in titles, title


def test_city_scale_reaches_ten_million_rows():
    # The generator at city scale: 250 topic datasets × ≥ 40,000 rows each ≥ 10M (checked on one table's shape).
    planned = entries()
    assert len(planned) >= 250
    _data, fields, district = planned[1]
    table = topic_table(fields, 40_000, np.random.default_rng(1), district)
    assert table.num_rows == 40_000 and len(planned) * 40_000 >= 10_000_000
    assert set(table.column("division_code").to_pylist()) == {district}


def test_every_open_dataset_has_rows(db):
    empty = db.scalar(select(func.count()).select_from(Dataset).where(Dataset.id.in_(public_ids()), Dataset.row_count == 0))
    assert empty == 0
