"""Application forms: the fields each process asks for, validated into one list of problems.

Every online application fills one form (一表申请); the catalogue's 申请表/申请书 materials are
generated from it rather than uploaded. Field specs are plain data so the portal draws the form from
the same list the API validates against.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xingcheng.core.ids import validate_credit_code, validate_id_number, validate_mobile


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # zh-CN, shown on the form
    kind: str  # text | int | id_number | credit_code | mobile | division | choice
    required: bool = True
    max_length: int = 200
    min_value: int | None = None
    max_value: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


COMMON = (
    FieldSpec("contact_phone", "联系电话", "mobile"),
    FieldSpec("note", "补充说明", "text", required=False, max_length=500),
)
ENTERPRISE_START = (
    FieldSpec("enterprise_name", "企业名称", "text", max_length=50, pattern=r"^长沙.{2,40}(有限公司|有限责任公司|股份有限公司)$",
              help="以“长沙”开头、以“有限公司”等组织形式结尾，如：长沙星辰科技有限公司"),
    FieldSpec("division_code", "住所所在区县", "division", help="长沙市区县行政区划代码，如 430104（岳麓区）"),
    FieldSpec("address", "住所", "text", max_length=200),
    FieldSpec("registered_capital_yuan", "注册资本（元）", "int", min_value=1, max_value=100_000_000_000),
    FieldSpec("industry_code", "行业代码（GB/T 4754）", "text", max_length=5, pattern=r"^[A-T]\d{2,4}$",
              help="如 I65（软件和信息技术服务业）"),
    FieldSpec("business_scope", "经营范围", "text", max_length=500),
    FieldSpec("employees", "拟招用员工人数", "int", min_value=0, max_value=100_000),
    FieldSpec("seal_count", "刻制印章数量", "int", min_value=1, max_value=10),
    FieldSpec("finance_officer_id_number", "财务负责人身份证号", "id_number", required=False),
    FieldSpec("bank_name", "基本存款账户开户银行", "text", max_length=64),
)


def fields_for(process_key: str) -> tuple[FieldSpec, ...]:
    return COMMON + (ENTERPRISE_START if process_key == "enterprise-start" else ())


def _problem(field: str, message: str, kind: str) -> dict[str, Any]:
    return {"in": "body", "field": f"form.{field}", "pointer": f"/form/{field}", "message": message, "type": kind}


def _changsha_division(value: str) -> str:
    if not re.fullmatch(r"4301\d\d", value) or value == "430100":
        raise ValueError("须为长沙市所辖区县的行政区划代码（4301xx）")
    return value


VALIDATORS: dict[str, Callable[[str], str]] = {
    "id_number": validate_id_number, "credit_code": validate_credit_code, "mobile": validate_mobile,
    "division": _changsha_division,
}


def _one(spec: FieldSpec, raw: Any) -> tuple[Any, str | None]:
    """The cleaned value, or the problem with it."""
    if spec.kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            return None, "须为整数"
        try:
            value = int(raw)
        except ValueError:
            return None, "须为整数"
        if spec.min_value is not None and value < spec.min_value:
            return None, f"不得小于 {spec.min_value}"
        if spec.max_value is not None and value > spec.max_value:
            return None, f"不得大于 {spec.max_value}"
        return value, None
    if not isinstance(raw, str):
        return None, "须为文本"
    text = raw.strip()
    if not text:
        return None, "不能为空"
    if len(text) > spec.max_length:
        return None, f"不得超过 {spec.max_length} 个字符"
    if spec.kind in VALIDATORS:
        try:
            return VALIDATORS[spec.kind](text), None
        except ValueError as exc:
            return None, str(exc)
    if spec.choices and text not in spec.choices:
        return None, f"须为以下之一：{'、'.join(spec.choices)}"
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        return None, f"格式不正确。{spec.help}".strip()
    return text, None


def validate_form(process_key: str, form: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Clean ``form`` against the process's fields: (values, problems); unknown fields are problems too."""
    specs = fields_for(process_key)
    known = {s.name for s in specs}
    cleaned: dict[str, Any] = {}
    problems = [_problem(name, "表单中没有这个字段", "unknown_field") for name in form if name not in known]
    for spec in specs:
        raw = form.get(spec.name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if spec.required:
                problems.append(_problem(spec.name, f"{spec.label}为必填项", "missing"))
            continue
        value, error = _one(spec, raw)
        if error:
            problems.append(_problem(spec.name, f"{spec.label}：{error}", "invalid"))
        else:
            cleaned[spec.name] = value
    return cleaned, problems
