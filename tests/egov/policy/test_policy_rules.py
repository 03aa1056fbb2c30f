"""The condition language: validation errors per condition, reasons and near misses, and the
vectorised engine deciding exactly as the row-by-row evaluator on random enterprises and rules."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xingcheng.egov.policy import engine, rules

COMPANY = {"industry_code": "I65", "entity_type": "company", "status": "active", "division_code": "430104",
           "employees": 120, "revenue_band": "medium", "registered_capital_wan": 500.0, "age_years": 6.5,
           "tax_credit_rating": "A", "high_tech": False, "rd_spend_wan": 380.0, "exporter": False,
           "revenue_wan": 9000.0, "rd_ratio_percent": 4.2, "export_wan": 0.0, "graduates_hired": 6,
           "insured_employees": 110, "layoff_rate_percent": 1.5, "specialised_sme": None, "tech_sme": True,
           "invention_patents": 3}


def test_a_valid_rule_set_has_no_errors():
    rule = {"all": [{"field": "industry_code", "op": "prefix", "value": ["I65", "C"]},
                    {"any": [{"field": "high_tech", "op": "==", "value": True},
                             {"field": "rd_ratio_percent", "op": ">=", "value": 3}]},
                    {"field": "employees", "op": "between", "value": [10, 500]}]}
    assert rules.validate(rule) == []


def test_each_bad_condition_is_named_by_its_pointer():
    rule = {"all": [
        {"field": "turnover", "op": ">=", "value": 1},  # unknown field
        {"field": "employees", "op": ">=", "value": "many"},  # wrong type
        {"field": "high_tech", "op": ">", "value": True},  # bad op for a flag
        {"field": "tax_credit_rating", "op": "in", "value": ["A", "AA"]},  # unknown enum value
        {"field": "industry_code", "op": "prefix", "value": ["Z99"]},  # not a GB/T 4754 code
        {"any": [{"field": "employees", "op": "between", "value": [50, 10]}]},  # reversed bounds, nested
        {"field": "employees", "op": ">="},  # missing value
    ]}
    errors = rules.validate(rule)
    assert [(e["pointer"], e["type"]) for e in errors] == [
        ("/all/0/field", "unknown_field"), ("/all/1/value", "wrong_type"), ("/all/2/op", "bad_op"),
        ("/all/3/value", "bad_value"), ("/all/4/value", "bad_value"), ("/all/5/any/0/value", "bad_value"),
        ("/all/6", "bad_condition"),
    ]
    assert "turnover" in errors[0]["message"] and "'AA'" in errors[3]["message"]


def test_the_root_must_be_a_non_empty_group_and_groups_nest_boundedly():
    assert rules.validate({"field": "employees", "op": ">=", "value": 1})[0]["type"] == "bad_group"
    assert rules.validate({"all": []})[0]["type"] == "wrong_type"
    assert rules.validate({"all": [], "any": []})[0]["type"] == "bad_group"
    assert rules.validate([1, 2])[0]["type"] == "wrong_type"
    deep: dict[str, Any] = {"field": "employees", "op": ">=", "value": 1}
    for _ in range(rules.MAX_DEPTH + 1):
        deep = {"all": [deep]}
    assert rules.validate(deep)[0]["type"] == "too_deep"
    assert rules.validate({"all": [{"field": "high_tech", "op": "==", "value": 1}]})[0]["type"] == "wrong_type"


def test_explain_gives_each_item_the_enterprises_value_and_a_near_miss_names_what_is_missing():
    rule = {"all": [{"field": "industry_code", "op": "prefix", "value": ["I65"]},
                    {"field": "high_tech", "op": "==", "value": True},
                    {"field": "rd_ratio_percent", "op": ">=", "value": 3}]}
    explanation = rules.explain(rule, COMPANY)
    assert not explanation.qualified and explanation.near_miss
    assert explanation.missing == ["高新技术企业认定"]
    assert [item.passed for item in explanation.items] == [True, False, True]
    assert explanation.items[2].actual == "研发费用占营业收入比例：4.2%"
    assert explanation.items[1].actual == "高新技术企业认定：否"
    qualified = rules.explain(rule, {**COMPANY, "high_tech": True})
    assert qualified.qualified and not qualified.near_miss and qualified.missing == []


def test_unknown_values_never_pass_and_two_failures_are_not_a_near_miss():
    rule = {"all": [{"field": "specialised_sme", "op": "==", "value": True},
                    {"field": "exporter", "op": "==", "value": True},
                    {"field": "employees", "op": ">=", "value": 10}]}
    explanation = rules.explain(rule, COMPANY)
    assert not explanation.qualified and not explanation.near_miss
    assert explanation.items[0].actual == "专精特新中小企业认定：未知"
    negative = {"all": [{"field": "specialised_sme", "op": "==", "value": False}]}
    assert not rules.explain(negative, COMPANY).qualified  # unknown is not "no" either


# ---- vectorised == row by row -------------------------------------------------------------

NUMBER_FIELDS = [n for n, s in rules.FIELDS.items() if s.kind == "number"]
INDUSTRIES = ["A01", "C13", "C27", "C35", "C39", "F51", "F52", "I64", "I65", "K70", "M75"]


def value_for(name: str) -> st.SearchStrategy[Any]:
    spec = rules.FIELDS[name]
    if spec.kind == "number":
        return st.one_of(st.none(), st.integers(0, 50).map(float), st.floats(0, 50, allow_nan=False))
    if spec.kind == "bool":
        return st.one_of(st.none(), st.booleans())
    if spec.kind == "industry":
        return st.one_of(st.none(), st.sampled_from(INDUSTRIES))
    return st.one_of(st.none(), st.sampled_from(spec.choices))


records = st.fixed_dictionaries({name: value_for(name) for name in rules.FIELDS})


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(list(rules.FIELDS)))
    spec = rules.FIELDS[name]
    op = draw(st.sampled_from(rules.OPS_BY_KIND[spec.kind]))
    value: Any
    if spec.kind == "number":
        if op == "between":
            low = draw(st.integers(0, 50))
            value = [low, draw(st.integers(low, 50))]
        else:
            value = draw(st.one_of(st.integers(0, 50), st.floats(0, 50, allow_nan=False)))
    elif spec.kind == "bool":
        value = draw(st.booleans())
    elif spec.kind == "industry":
        value = draw(st.lists(st.sampled_from(["A", "C", "C3", "C39", "F5", "I65", "K"]), min_size=1, max_size=3))
    elif op in ("in", "not_in"):
        value = draw(st.lists(st.sampled_from(spec.choices), min_size=1, max_size=3))
    else:
        value = draw(st.sampled_from(spec.choices))
    return {"field": name, "op": op, "value": value}


items = st.one_of(conditions(), st.builds(lambda kind, xs: {kind: xs}, st.sampled_from(["all", "any"]),
                                          st.lists(conditions(), min_size=1, max_size=3)))
rule_sets = st.builds(lambda kind, xs: {kind: xs}, st.sampled_from(["all", "all", "any"]),
                      st.lists(items, min_size=1, max_size=5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rule_sets, rows=st.lists(records, min_size=1, max_size=25))
def test_vectorised_matching_agrees_with_the_row_by_row_evaluator(rule, rows):
    assert rules.validate(rule) == []
    frame = engine.EnterpriseFrame.from_records([f"E{i}" for i in range(len(rows))], rows)
    result = engine.match(frame, engine.compile_rule(rule), with_failed_item=True)
    for index, row in enumerate(rows):
        assert frame.row(index) == {k: (float(v) if isinstance(v, int) and not isinstance(v, bool) else v)
                                    for k, v in row.items()}
        qualified, near_miss = rules.verdict(rule, row)
        explanation = rules.explain(rule, row)
        assert (bool(result.qualified[index]), bool(result.near_miss[index])) == (qualified, near_miss)
        assert (explanation.qualified, explanation.near_miss) == (qualified, near_miss)
        if near_miss:
            failing = [i for i, item in enumerate(explanation.items) if not item.passed]
            assert failing == [int(result.failed_item[index])]


def test_a_frame_slice_keeps_each_enterprises_values():
    rows = [COMPANY, {**COMPANY, "industry_code": "C39", "high_tech": True}, {name: None for name in rules.FIELDS}]
    frame = engine.EnterpriseFrame.from_records(["a", "b", "c"], rows)
    part = frame.take(np.array([2, 1]))
    assert part.credit_codes == ["c", "b"]
    assert part.row(1)["industry_code"] == "C39" and part.row(1)["high_tech"] is True
    assert all(value is None for value in part.row(0).values())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_=st.lists(rule_sets, min_size=1, max_size=6), rows=st.lists(records, min_size=1, max_size=15))
def test_a_campaign_run_shares_repeated_items_without_changing_any_verdict(rules_, rows):
    shared_rule = rules_[0]
    compiled = [engine.compile_rule(rule) for rule in [*rules_, shared_rule]]  # a repeated rule set shares columns
    frame = engine.EnterpriseFrame.from_records([f"E{i}" for i in range(len(rows))], rows)
    for index, result in engine.match_all(frame, compiled):
        alone = engine.match(frame, compiled[index])
        assert np.array_equal(result.qualified, alone.qualified) and np.array_equal(result.near_miss, alone.near_miss)
