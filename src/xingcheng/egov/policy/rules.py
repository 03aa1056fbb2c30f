"""The condition language of 惠企政策: a declarative rule set over enterprise attributes.

A rule set is JSON: a group ``{"all": [...]}`` or ``{"any": [...]}`` whose items are conditions
``{"field", "op", "value"}`` or nested groups (at most ``MAX_DEPTH`` deep). Staff write it in the
policy editor; ``validate`` names every bad condition by its JSON pointer. ``explain`` evaluates
one enterprise in plain Python and says, per top-level item, the enterprise's value and whether
it passed; the vectorised engine (``engine.py``) computes the same verdicts over columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FieldKind = Literal["number", "bool", "enum", "industry"]
MAX_DEPTH = 3
MAX_ITEMS = 50

NUMBER_OPS = ("==", "!=", ">", ">=", "<", "<=", "between")
ENUM_OPS = ("==", "!=", "in", "not_in")
BOOL_OPS = ("==",)
INDUSTRY_OPS = ("prefix", "not_prefix")  # GB/T 4754 codes: "C" (门类), "C39" (大类), "C391" …
OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "number": NUMBER_OPS, "bool": BOOL_OPS, "enum": ENUM_OPS, "industry": INDUSTRY_OPS,
}
OP_LABELS = {"==": "等于", "!=": "不等于", ">": "大于", ">=": "不低于", "<": "小于", "<=": "不高于",
             "between": "介于", "in": "属于", "not_in": "不属于", "prefix": "行业属于", "not_prefix": "行业不属于"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: FieldKind
    label: str  # zh-CN, what the enterprise reads in a reason
    unit: str = ""
    choices: tuple[str, ...] = ()  # enum values
    source: str = "legal_entity"  # legal_entity | derived | profile (this package's enterprise attributes)


DISTRICT_CODES = ("430102", "430103", "430104", "430105", "430111", "430112", "430121", "430181", "430182")
FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in (
    FieldSpec("industry_code", "industry", "所属行业（GB/T 4754）"),
    FieldSpec("entity_type", "enum", "市场主体类型", choices=(
        "company", "individual_business", "cooperative", "social_organisation", "public_institution")),
    FieldSpec("status", "enum", "登记状态", choices=("active", "revoked", "cancelled", "suspended")),
    FieldSpec("division_code", "enum", "注册地", choices=DISTRICT_CODES),
    FieldSpec("employees", "number", "从业人数", "人"),
    FieldSpec("revenue_band", "enum", "企业规模", choices=("micro", "small", "medium", "large")),
    FieldSpec("registered_capital_wan", "number", "注册资本", "万元", source="derived"),
    FieldSpec("age_years", "number", "成立年限", "年", source="derived"),
    FieldSpec("tax_credit_rating", "enum", "纳税信用等级", choices=("A", "B", "M", "C", "D")),
    FieldSpec("high_tech", "bool", "高新技术企业认定"),
    FieldSpec("rd_spend_wan", "number", "年度研发费用", "万元", source="derived"),
    FieldSpec("exporter", "bool", "有进出口实绩"),
    FieldSpec("revenue_wan", "number", "上年度营业收入", "万元", source="profile"),
    FieldSpec("rd_ratio_percent", "number", "研发费用占营业收入比例", "%", source="derived"),
    FieldSpec("export_wan", "number", "上年度出口额", "万元", source="profile"),
    FieldSpec("graduates_hired", "number", "当年新招用高校毕业生", "人", source="profile"),
    FieldSpec("insured_employees", "number", "参保职工人数", "人", source="profile"),
    FieldSpec("layoff_rate_percent", "number", "上年度裁员率", "%", source="profile"),
    FieldSpec("specialised_sme", "bool", "专精特新中小企业认定", source="profile"),
    FieldSpec("tech_sme", "bool", "科技型中小企业入库", source="profile"),
    FieldSpec("invention_patents", "number", "有效发明专利", "件", source="profile"),
)}
ENUM_LABELS: dict[str, dict[str, str]] = {
    "entity_type": {"company": "企业", "individual_business": "个体工商户", "cooperative": "农民专业合作社",
                    "social_organisation": "社会组织", "public_institution": "事业单位"},
    "status": {"active": "存续", "revoked": "吊销", "cancelled": "注销", "suspended": "停业"},
    "division_code": {"430102": "芙蓉区", "430103": "天心区", "430104": "岳麓区", "430105": "开福区",
                      "430111": "雨花区", "430112": "望城区", "430121": "长沙县", "430181": "浏阳市", "430182": "宁乡市"},
    "revenue_band": {"micro": "微型", "small": "小型", "medium": "中型", "large": "大型"},
    "tax_credit_rating": {r: f"{r}级" for r in ("A", "B", "M", "C", "D")},
}


class RuleError(ValueError):
    """A rule set that does not validate; ``errors`` has one entry per bad spot."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['pointer']}: {e['message']}" for e in errors))
        self.errors = errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value and abs(value) < 1e15


def _check_value(spec: FieldSpec, op: str, value: Any) -> tuple[str, str] | None:
    """(error type, message) when ``value`` does not fit ``spec`` and ``op``."""
    if spec.kind == "number":
        if op == "between":
            if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
                return "wrong_type", f"'between' needs [low, high] numbers for {spec.name}"
            if value[0] > value[1]:
                return "bad_value", f"'between' bounds are reversed: {value[0]} > {value[1]}"
            return None
        return None if _is_number(value) else ("wrong_type", f"{spec.name} is a number ({spec.unit or 'count'})")
    if spec.kind == "bool":
        return None if isinstance(value, bool) else ("wrong_type", f"{spec.name} is true or false")
    if spec.kind == "enum":
        values = value if op in ("in", "not_in") else [value]
        if op in ("in", "not_in") and (not isinstance(value, list) or not value):
            return "wrong_type", f"'{op}' needs a non-empty list of values for {spec.name}"
        bad = [v for v in values if v not in spec.choices]
        if bad:
            return "bad_value", f"{spec.name} has no value {bad[0]!r}; one of: {', '.join(spec.choices)}"
        return None
    # industry: a list of GB/T 4754 code prefixes (section letter, then up to 4 digits)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return "wrong_type", "industry conditions need a non-empty list of GB/T 4754 codes, e.g. [\"C39\", \"I65\"]"
    for code in value:
        if not (1 <= len(code) <= 5 and "A" <= code[0] <= "T" and (code[1:] == "" or code[1:].isdigit())):
            return "bad_value", f"{code!r} is not a GB/T 4754 code (a letter A–T and up to four digits)"
    return None


def validate(rule: Any) -> list[dict[str, str]]:
    """Every problem in ``rule``: ``{pointer, message, type}``; an empty list means it is valid."""
    errors: list[dict[str, str]] = []

    def walk(node: Any, pointer: str, depth: int) -> None:
        if not isinstance(node, dict):
            errors.append({"pointer": pointer, "message": "expected a condition object or an all/any group",
                           "type": "wrong_type"})
            return
        groups = [k for k in ("all", "any") if k in node]
        if groups:
            if len(node) != 1:
                errors.append({"pointer": pointer, "message": "a group has exactly one key, 'all' or 'any'",
                               "type": "bad_group"})
                return
            if depth >= MAX_DEPTH:
                errors.append({"pointer": pointer, "message": f"groups nest at most {MAX_DEPTH} deep", "type": "too_deep"})
                return
            items = node[groups[0]]
            if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
                errors.append({"pointer": f"{pointer}/{groups[0]}", "type": "wrong_type",
                               "message": f"'{groups[0]}' needs a list of 1–{MAX_ITEMS} conditions"})
                return
            for index, item in enumerate(items):
                walk(item, f"{pointer}/{groups[0]}/{index}", depth + 1)
            return
        if depth == 0:
            errors.append({"pointer": pointer, "message": "the rule set is a group: {\"all\": [...]} or {\"any\": [...]}",
                           "type": "bad_group"})
            return
        unknown_keys = sorted(set(node) - {"field", "op", "value"})
        if unknown_keys or not {"field", "op", "value"} <= set(node):
            errors.append({"pointer": pointer, "type": "bad_condition",
                           "message": "a condition has exactly the keys field, op and value"})
            return
        field, op, value = node["field"], node["op"], node["value"]
        spec = FIELDS.get(field) if isinstance(field, str) else None
        if spec is None:
            errors.append({"pointer": f"{pointer}/field", "type": "unknown_field",
                           "message": f"unknown field {field!r}; known: {', '.join(FIELDS)}"})
            return
        if op not in OPS_BY_KIND[spec.kind]:
            errors.append({"pointer": f"{pointer}/op", "type": "bad_op",
                           "message": f"{field} ({spec.kind}) takes {', '.join(OPS_BY_KIND[spec.kind])}, not {op!r}"})
            return
        problem = _check_value(spec, op, value)
        if problem is not None:
            errors.append({"pointer": f"{pointer}/value", "type": problem[0], "message": problem[1]})

    walk(rule, "", 0)
    return errors


def require_valid(rule: Any) -> dict[str, Any]:
    errors = validate(rule)
    if errors:
        raise RuleError(errors)
    return dict(rule)


def top_items(rule: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The root group's kind and its items (each a condition or a nested group)."""
    kind = "all" if "all" in rule else "any"
    return kind, list(rule[kind])


def conditions_in(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every leaf condition, depth first."""
    if "field" in rule:
        return [dict(rule)]
    kind = "all" if "all" in rule else "any"
    return [leaf for item in rule[kind] for leaf in conditions_in(item)]


# ---- evaluation, one enterprise at a time -------------------------------------------------------

def check_condition(op: str, actual: Any, value: Any) -> bool:
    """One condition on one value; ``None`` (unknown) never passes. ``engine`` mirrors these rules."""
    if actual is None:
        return False
    if op == "prefix":
        return any(str(actual).startswith(p) for p in value)
    if op == "not_prefix":
        return not any(str(actual).startswith(p) for p in value)
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    if op == "between":
        return bool(value[0] <= actual <= value[1])
    if op == "==":
        return bool(actual == value)
    if op == "!=":
        return bool(actual != value)
    if op == ">":
        return bool(actual > value)
    if op == ">=":
        return bool(actual >= value)
    if op == "<":
        return bool(actual < value)
    if op == "<=":
        return bool(actual <= value)
    raise ValueError(f"unknown op {op!r}")


def evaluate(node: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    if "field" in node:
        return check_condition(node["op"], attributes.get(node["field"]), node["value"])
    if "all" in node:
        return all(evaluate(item, attributes) for item in node["all"])
    return any(evaluate(item, attributes) for item in node["any"])


def verdict(rule: Mapping[str, Any], attributes: Mapping[str, Any]) -> tuple[bool, bool]:
    """(qualified, near miss) for one enterprise, without the reasons' text (what ``explain`` decides)."""
    kind, items = top_items(rule)
    failed = sum(not evaluate(item, attributes) for item in items)
    if kind == "any":
        return failed < len(items), False
    return failed == 0, failed == 1


def describe_value(field: str, value: Any) -> str:
    """A condition value or an enterprise's value as the enterprise reads it (zh-CN)."""
    spec = FIELDS.get(field)
    if value is None:
        return "未知"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(describe_value(field, v) for v in value)
    labels = ENUM_LABELS.get(field, {})
    if isinstance(value, str):
        return labels.get(value, value)
    number = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{number}{spec.unit if spec else ''}"


def describe_condition(node: Mapping[str, Any]) -> str:
    """``高新技术企业认定 等于 是``; a group reads ``满足以下任一项：…`` / ``同时满足：…``."""
    if "field" not in node:
        kind = "all" if "all" in node else "any"
        joined = "；".join(describe_condition(item) for item in node[kind])
        return f"{'同时满足' if kind == 'all' else '满足任一'}：{joined}"
    spec = FIELDS[node["field"]]
    op, value = node["op"], node["value"]
    if spec.kind == "bool":
        return spec.label if value else f"无{spec.label}"
    if op == "between":
        return f"{spec.label}介于{describe_value(spec.name, value[0])}至{describe_value(spec.name, value[1])}"
    return f"{spec.label}{OP_LABELS[op]}{describe_value(spec.name, value)}"


@dataclass(frozen=True)
class ItemResult:
    """One top-level item of a policy's rule set, evaluated for one enterprise."""

    condition: str  # zh-CN description
    fields: tuple[str, ...]
    actual: str  # the enterprise's value(s), zh-CN
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"condition": self.condition, "fields": list(self.fields), "actual": self.actual, "passed": self.passed}


@dataclass(frozen=True)
class Explanation:
    qualified: bool
    near_miss: bool  # an 'all' rule set with exactly one item failing
    items: tuple[ItemResult, ...]

    @property
    def missing(self) -> list[str]:
        return [item.condition for item in self.items if not item.passed]


def explain(rule: Mapping[str, Any], attributes: Mapping[str, Any]) -> Explanation:
    """The reason, item by item: what the policy asks, what the enterprise has, pass or fail."""
    kind, items = top_items(rule)
    results = []
    for item in items:
        leaves = conditions_in(item)
        fields = tuple(dict.fromkeys(leaf["field"] for leaf in leaves))
        actual = "；".join(f"{FIELDS[f].label}：{describe_value(f, attributes.get(f))}" for f in fields)
        results.append(ItemResult(describe_condition(item), fields, actual, evaluate(item, attributes)))
    failed = sum(not r.passed for r in results)
    qualified = failed == 0 if kind == "all" else failed < len(results)
    return Explanation(qualified=qualified, near_miss=kind == "all" and failed == 1, items=tuple(results))


def fields_used(rules: Sequence[Mapping[str, Any]]) -> set[str]:
    return {leaf["field"] for rule in rules for leaf in conditions_in(rule)}
