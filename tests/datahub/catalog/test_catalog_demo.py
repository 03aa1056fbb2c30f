"""The demo catalogue and the service layer: 500+ datasets, the registries as graded datasets, Parquet layout."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from catalog_testing import CLERK, STEWARD, dataset_body
from sqlalchemy import func, select

from xingcheng.core.auth import Principal
from xingcheng.core.errors import Invalid
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings
from xingcheng.datahub.catalog import service
from xingcheng.datahub.catalog.demo import plan
from xingcheng.datahub.catalog.ingest import REJECTED_LISTED, check_rows, read_upload
from xingcheng.datahub.catalog.models import Dataset, DatasetBatch
from xingcheng.datahub.catalog.schemas import DatasetCreate
from xingcheng.datahub.registries.models import Person

POLICE = Principal(kind="staff", name="police-clerk", roles=frozenset({"department_staff"}), department_code="gaj")
PAGE = PageParams(limit=5, offset=0)


def test_demo_catalogue_covers_every_department(any_db):
    total, departments = any_db.execute(select(func.count(), func.count(Dataset.owner_department_code.distinct()))).one()
    assert total >= 500 and departments == 60
    grades = dict(any_db.execute(select(Dataset.grade, func.count()).group_by(Dataset.grade)).all())
    assert grades["L1"] > total / 2 and grades["L3"] > 0 and grades["L4"] > 0
    categories = set(any_db.scalars(select(Dataset.category).distinct()))
    assert categories == {"base", "sector", "thematic"}
    with_rows = any_db.scalar(select(func.count()).where(Dataset.row_count > 0))
    assert with_rows >= 20  # the catalogue's own samples, and every dataset the open-data portal publishes


def test_registries_are_graded_datasets(any_db):
    register = service.get_or_raise(any_db, owner="gaj", name="population-register")
    assert register.grade == "L4"
    # The register is the catalogue's snapshot of the registry; later demo steps add (defective) records.
    assert 0 < register.row_count <= any_db.scalar(select(func.count()).select_from(Person))
    own = service.read_rows(any_db, dataset=register, reader=POLICE, purpose="population-check", page=PAGE)
    first_person = any_db.scalars(select(Person).order_by(Person.id)).first()
    assert own["items"][0]["id_number"] == first_person.id_number and own["basis"] == "owner"
    with pytest.raises(service.ReadDenied):
        service.read_rows(any_db, dataset=register, reader=CLERK, purpose="population-check", page=PAGE)
    entities = service.get_or_raise(any_db, owner="scj", name="legal-entity-register")
    assert entities.grade == "L3" and entities.row_count > 0


def test_the_population_register_is_graded_as_the_registry_grades_its_fields():
    from xingcheng.datahub.catalog.demo import POPULATION_FIELDS
    from xingcheng.datahub.registries.sources import DEFAULT_OWNERS

    registry = DEFAULT_OWNERS["person"]
    assert {f["name"]: f["grade"] for f in POPULATION_FIELDS} == {f["name"]: registry[f["name"]][1] for f in POPULATION_FIELDS}


def test_parquet_layout_per_version(any_db):
    dataset = service.get_or_raise(any_db, owner="sthj", name="air-quality-hourly")
    part = any_db.scalar(select(DatasetBatch.part).where(DatasetBatch.dataset_id == dataset.id))
    assert part.startswith("datasets/sthj/air-quality-hourly/v1/part-") and part.endswith(".parquet")
    table = pq.read_table(get_settings().data_dir / "lake" / part)
    assert table.num_rows == dataset.row_count
    assert table.schema.field("value").type == pa.float64() and table.schema.field("period").type == pa.date32()


def test_plan_is_deterministic_and_titles_are_chinese():
    import random

    departments = {"scj": "长沙市市场监督管理局", "gaj": "长沙市公安局"}
    first, second = plan(random.Random(1), departments | _all()), plan(random.Random(1), departments | _all())
    assert first == second
    assert {"name": "enterprise-registration-info", "title": "长沙市企业登记信息"}.items() <= first[0].items()


def _all() -> dict[str, str]:
    import csv
    from importlib import resources

    with resources.files("xingcheng.core").joinpath("data", "departments.csv").open(encoding="utf-8") as handle:
        return {row["code"]: row["name"] for row in csv.DictReader(handle)}


def test_parquet_upload_and_service_rules(any_db):
    dataset = service.create_dataset(any_db, data=DatasetCreate(**dataset_body()), creator=CLERK)
    table = pa.table({"owner_id": ["11010519491231002x", "bad"], "dog_count": [1, 2],
                      "vaccinated_on": pa.array([None, None], pa.date32())})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    result = service.upload(any_db, dataset=dataset, content=buffer.getvalue(), filename="dogs.parquet", uploader=CLERK)
    assert (result["rows_accepted"], result["rows_rejected"]) == (1, 1)
    rows = service.read_rows(any_db, dataset=dataset, reader=CLERK, purpose="check", page=PAGE)["items"]
    assert rows[0]["owner_id"] == "11010519491231002X"  # normalised by the ID validator
    with pytest.raises(Invalid):
        service.upload(any_db, dataset=dataset, content=b"\x00\x01garbage", filename="x.parquet", uploader=CLERK)
    assert service.descriptor(any_db, dataset).fields["owner_id"].kind == "id_number"
    assert service.resource_key(dataset) == "dataset:xzsp/dog-immunisation"
    assert STEWARD.department_code == "dsj"


def test_unreadable_uploads_are_refused_whole():
    fields = [{"name": "a", "title": "a", "type": "string", "kind": "free", "grade": "L1", "required": False}]
    for content in (b"a,a\n1,2\n", "a\n中文".encode("gbk"), b""):
        with pytest.raises(Invalid):
            check_rows(read_upload(content, "x.csv"), fields)
    assert read_upload("\ufeffa\n1\n".encode(), "bom.csv").column_names == ["a"]  # a UTF-8 BOM is not a column name


def test_many_bad_rows_are_counted_beyond_the_listing():
    fields = [{"name": "n", "title": "n", "type": "int", "kind": "free", "grade": "L1", "required": True}]
    raw = read_upload(("n\n" + "x\n" * 250 + "7\n").encode(), "many.csv")
    checked = check_rows(raw, fields)
    assert checked.rejected_count == 250 and len(checked.rejected) == REJECTED_LISTED
    assert checked.table.column("n").to_pylist() == [7]
    assert checked.rejected[0] == (1, ["n: not an integer"])


@pytest.mark.parametrize(("type_", "good", "bad"), [
    ("float", "1.5e3", "1.5.3"), ("int", "-42", "4.2"), ("bool", "否", "maybe"), ("timestamp", "2026-01-02T03:04:05Z", "2026-01-02T25:00:00"),
    ("date", "2024-02-29", "2023-02-29"),
])
def test_type_checks(type_, good, bad):
    fields = [{"name": "v", "title": "v", "type": type_, "kind": "free", "grade": "L1", "required": False}]
    checked = check_rows(read_upload(f"v\n{good}\n{bad}\n\n".encode(), "t.csv"), fields)
    assert checked.rejected_count == 1 and checked.rejected[0][0] == 2
    assert checked.table.num_rows == 1 and checked.table.column("v").null_count == 0


def test_search_tokens_ignore_punctuation_and_underscores(any_db):
    from xingcheng.datahub.catalog.search import tokens

    assert "_" not in tokens("credit_code 统一社会信用代码")
    assert {"企业", "登记"} <= set(tokens("长沙市企业登记信息"))
    assert service.search_datasets(any_db, q="%_", page=PAGE)["total"] == 0
    phrase = service.search_datasets(any_db, q="公交线路站点", page=PAGE)["items"][0]
    assert phrase["title"] == "长沙市公交线路站点"
