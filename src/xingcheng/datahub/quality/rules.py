"""Quality rules: each checks one thing of one subject and names the records that fail it.

Dimensions (GB/T 36344-2018 数据质量评价指标, as the city reports them): completeness (完整性),
validity (规范性/有效性), uniqueness (唯一性), consistency (一致性, within a record and across sources),
timeliness (时效性). A rule reports how many values or records it checked and which failed.
Registries are read column-wise through SQLAlchemy Core; datasets as Arrow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.identity.models import Division
from xingcheng.core.ids import (
    id_number_birth_date,
    id_number_gender,
    validate_credit_code,
    validate_division_code,
    validate_id_number,
    validate_mobile,
)
from xingcheng.datahub.registries.models import FieldClaim, LegalEntity, Person

DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "timeliness")
STALE_AFTER = timedelta(days=3 * 365)  # a registry record not confirmed for three years is stale
PHONE_REQUIRED_AGES = (18, 69)  # working-age adults must have a contact number on record
DATASET_STALE_FACTOR = 2  # a dataset is stale when its last load is older than twice its update interval
FREQUENCY_DAYS = {"realtime": 1, "hourly": 1, "daily": 2, "weekly": 7, "monthly": 31, "quarterly": 92,
                  "yearly": 366, "annual": 366}
DETAILS_KEPT = 5000  # failing records stored per rule and report


@dataclass
class RuleResult:
    rule: str
    dimension: str
    description: str  # zh-CN, for the console
    field: str | None = None
    checked: int = 0
    failed: list[tuple[str, str]] = dataclass_field(default_factory=list)  # (record ref, detail)

    def fail(self, ref: object, detail: str) -> None:
        self.failed.append((str(ref), detail[:300]))

    def summary(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "field": self.field, "description": self.description,
                "checked": self.checked, "failed": len(self.failed)}


def _valid(validator: Callable[[str], str], value: str) -> str | None:
    try:
        validator(value)
    except ValueError as exc:
        return str(exc)
    return None


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _county_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Division.code).where(Division.level == "county")))


def _claims(session: Session, registry_name: str) -> RuleResult:
    result = RuleResult("claim_conflict", "consistency", "多源校核：非权威来源与权威值不一致")
    rows = session.execute(select(FieldClaim.id, FieldClaim.field, FieldClaim.department_code, FieldClaim.status,
                                  FieldClaim.authority_department_code)
                           .where(FieldClaim.registry_name == registry_name,
                                  FieldClaim.status.in_(("agrees", "conflict")))).all()
    for claim_id, name, department, status, authority in rows:
        result.checked += 1
        if status == "conflict":
            result.fail(f"claim:{claim_id}", f"{department} 对 {name} 的申报与权威部门 {authority} 不一致")
    return result


def _duplicates(result: RuleResult, keyed: Iterable[tuple[int, tuple[Any, ...]]], label: str) -> None:
    first: dict[tuple[Any, ...], int] = {}
    for ref, key in keyed:
        result.checked += 1
        if key in first:
            result.fail(ref, f"与记录 {first[key]} 的{label}相同")
        else:
            first[key] = ref


def person_rules(session: Session, measured_at: datetime) -> tuple[int, list[RuleResult]]:
    today = measured_at.date()
    rows = session.execute(select(
        Person.id, Person.id_number, Person.name, Person.gender, Person.birth_date, Person.division_code,
        Person.household_address, Person.residence_address, Person.phone, Person.updated_at,
    ).order_by(Person.id)).all()
    counties = _county_codes(session)
    required = {name: RuleResult(f"missing_{name}", "completeness", f"必填项缺失：{label}", name)
                for name, label in (("name", "姓名"), ("household_address", "户籍地址"), ("residence_address", "居住地址"))}
    missing_phone = RuleResult("missing_phone", "completeness", "18–69 周岁居民缺少联系电话", "phone")
    bad_id = RuleResult("invalid_id_number", "validity", "公民身份号码不符合 GB 11643（校验码、出生日期、地址码）", "id_number")
    bad_phone = RuleResult("invalid_phone", "validity", "手机号码格式错误", "phone")
    bad_division = RuleResult("invalid_division", "validity", "行政区划代码不在本市区县之列", "division_code")
    mismatch = RuleResult("id_birth_mismatch", "consistency", "出生日期或性别与身份号码不一致", "birth_date")
    duplicate = RuleResult("duplicate_record", "uniqueness", "疑似重复登记（姓名、性别、出生日期、户籍地址相同）")
    stale = RuleResult("stale_record", "timeliness", "记录超过三年未更新核实", "updated_at")
    keys: list[tuple[int, tuple[Any, ...]]] = []
    for pid, id_number, name, gender, birth, division, household, residence, phone, updated in rows:
        for column, value in (("name", name), ("household_address", household), ("residence_address", residence)):
            required[column].checked += 1
            if _blank(value):
                required[column].fail(pid, f"{column} 为空")
        low, high = PHONE_REQUIRED_AGES
        if low <= _age(birth, today) <= high:
            missing_phone.checked += 1
            if _blank(phone):
                missing_phone.fail(pid, "无联系电话")
        bad_id.checked += 1
        problem = _valid(validate_id_number, id_number)
        if problem:
            bad_id.fail(pid, problem)
        else:
            mismatch.checked += 1
            if id_number_birth_date(id_number) != birth or id_number_gender(id_number) != gender:
                mismatch.fail(pid, f"登记出生日期 {birth}，身份号码为 {id_number_birth_date(id_number)}")
        if not _blank(phone):
            bad_phone.checked += 1
            problem = _valid(validate_mobile, str(phone))
            if problem:
                bad_phone.fail(pid, problem)
        bad_division.checked += 1
        if division not in counties:
            bad_division.fail(pid, f"区划代码 {division}")
        keys.append((pid, (name, gender, birth, household)))
        stale.checked += 1
        if updated < measured_at - STALE_AFTER:
            stale.fail(pid, f"最后更新于 {updated:%Y-%m-%d}")
    _duplicates(duplicate, keys, "姓名、性别、出生日期和户籍地址")
    rules = [*required.values(), missing_phone, bad_id, bad_phone, bad_division, mismatch, duplicate, stale,
             _claims(session, "person")]
    return len(rows), rules


def legal_entity_rules(session: Session, measured_at: datetime) -> tuple[int, list[RuleResult]]:
    rows = session.execute(select(
        LegalEntity.id, LegalEntity.credit_code, LegalEntity.name, LegalEntity.address, LegalEntity.division_code,
        LegalEntity.legal_representative_name, LegalEntity.legal_representative_id_number, LegalEntity.updated_at,
    ).order_by(LegalEntity.id)).all()
    counties = _county_codes(session)
    required = {name: RuleResult(f"missing_{name}", "completeness", f"必填项缺失：{label}", name)
                for name, label in (("name", "名称"), ("address", "住所"), ("legal_representative_name", "法定代表人"))}
    bad_code = RuleResult("invalid_credit_code", "validity", "统一社会信用代码不符合 GB 32100", "credit_code")
    bad_rep = RuleResult("invalid_representative_id", "validity", "法定代表人身份号码不符合 GB 11643",
                         "legal_representative_id_number")
    bad_division = RuleResult("invalid_division", "validity", "行政区划代码不在本市区县之列", "division_code")
    duplicate = RuleResult("duplicate_record", "uniqueness", "疑似重复登记（名称相同）", "name")
    stale = RuleResult("stale_record", "timeliness", "记录超过三年未更新核实", "updated_at")
    keys: list[tuple[int, tuple[Any, ...]]] = []
    for eid, code, name, address, division, rep_name, rep_id, updated in rows:
        for column, value in (("name", name), ("address", address), ("legal_representative_name", rep_name)):
            required[column].checked += 1
            if _blank(value):
                required[column].fail(eid, f"{column} 为空")
        bad_code.checked += 1
        problem = _valid(validate_credit_code, code)
        if problem:
            bad_code.fail(eid, problem)
        if rep_id:
            bad_rep.checked += 1
            problem = _valid(validate_id_number, rep_id)
            if problem:
                bad_rep.fail(eid, problem)
        bad_division.checked += 1
        if division not in counties:
            bad_division.fail(eid, f"区划代码 {division}")
        keys.append((eid, (name,)))
        stale.checked += 1
        if updated < measured_at - STALE_AFTER:
            stale.fail(eid, f"最后更新于 {updated:%Y-%m-%d}")
    _duplicates(duplicate, keys, "名称")
    rules = [*required.values(), bad_code, bad_rep, bad_division, duplicate, stale, _claims(session, "legal_entity")]
    return len(rows), rules


# ---- datasets ----------------------------------------------------------------------------------------------

VALIDATORS: dict[str, tuple[Callable[[str], str], str]] = {
    "id_number": (validate_id_number, "公民身份号码不符合 GB 11643"),
    "phone": (validate_mobile, "手机号码格式错误"),
    "credit_code": (validate_credit_code, "统一社会信用代码不符合 GB 32100"),
    "division": (validate_division_code, "行政区划代码不符合 GB/T 2260"),
}


def _validator_key(spec: dict[str, Any]) -> str | None:
    kind = spec.get("kind")
    if kind in VALIDATORS:
        return str(kind)
    if spec.get("name") in ("division_code", "district_code") and spec.get("type") == "string":
        return "division"
    return None


def dataset_rules(table: pa.Table, fields: list[dict[str, Any]], *, last_update: datetime | None, frequency: str,
                  measured_at: datetime) -> list[RuleResult]:
    """Rules over a dataset's rows (row refs are 1-based row numbers in storage order)."""
    rules: list[RuleResult] = []
    names = set(table.column_names)
    for spec in fields:
        name = spec["name"]
        if name not in names:
            continue
        column = table.column(name)
        if spec.get("required"):
            result = RuleResult(f"missing:{name}", "completeness", f"必填字段为空：{spec.get('title') or name}", name)
            result.checked = table.num_rows
            empty = pc.is_null(column)
            if pa.types.is_string(column.type):
                empty = pc.or_(empty, pc.equal(pc.utf8_trim_whitespace(column), ""))
            for index in pc.indices_nonzero(pc.fill_null(empty, True)).to_pylist():
                result.fail(index + 1, "空值")
            rules.append(result)
        key = _validator_key(spec)
        if key is not None:
            validator, description = VALIDATORS[key]
            result = RuleResult(f"invalid:{name}", "validity", description, name)
            for index, value in enumerate(column.to_pylist()):
                if _blank(value):
                    continue
                result.checked += 1
                problem = _valid(validator, str(value))
                if problem:
                    result.fail(index + 1, problem)
            rules.append(result)
    duplicate = RuleResult("duplicate_row", "uniqueness", "完全重复的记录行")
    if table.num_rows:
        seen: dict[tuple[Any, ...], int] = {}
        for index, row in enumerate(zip(*(table.column(n).to_pylist() for n in table.column_names), strict=True)):
            duplicate.checked += 1
            if row in seen:
                duplicate.fail(index + 1, f"与第 {seen[row]} 行完全相同")
            else:
                seen[row] = index + 1
    rules.append(duplicate)
    stale = RuleResult("stale_dataset", "timeliness", "数据未按更新频率更新", None, checked=1)
    interval = FREQUENCY_DAYS.get(frequency)
    if last_update is None:
        stale.fail("dataset", "从未加载数据")
    elif interval is not None and measured_at - last_update > timedelta(days=interval * DATASET_STALE_FACTOR):
        stale.fail("dataset", f"最后更新 {last_update:%Y-%m-%d}，更新频率 {frequency}")
    rules.append(stale)
    return rules
