"""Vectorised matching: rule sets compiled to numpy column predicates over every enterprise at once.

Enterprises are held column-wise in an ``EnterpriseFrame``: numbers as float64 (NaN = unknown),
flags as int8 (1 / 0 / -1 unknown), enums and industry codes as categorical codes (0 = unknown,
``categories[code - 1]`` otherwise). A compiled rule evaluates each top-level item to a boolean
column; the verdicts are the same as ``rules.evaluate`` gives row by row (an unknown value never
passes). The service and ``bench/policy.py`` both run this code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from xingcheng.egov.policy.rules import FIELDS, top_items

BoolArray = npt.NDArray[np.bool_]
Predicate = Callable[["EnterpriseFrame"], BoolArray]


@dataclass
class Categorical:
    codes: npt.NDArray[np.int32]  # 0 = unknown
    categories: list[str]
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {c: i + 1 for i, c in enumerate(self.categories)}

    def code_of(self, value: str) -> int:
        return self._index.get(value, -1)  # -1 never occurs: the value is absent

    def lookup(self, wanted: Callable[[str], bool]) -> npt.NDArray[np.bool_]:
        """A table over codes (index 0 = unknown, always False) of which categories are wanted."""
        return np.array([False, *(wanted(c) for c in self.categories)], dtype=np.bool_)

    @classmethod
    def from_values(cls, values: Sequence[str | None]) -> Categorical:
        categories = sorted({v for v in values if v is not None})
        index = {c: i + 1 for i, c in enumerate(categories)}
        codes = np.fromiter((index[v] if v is not None else 0 for v in values), dtype=np.int32, count=len(values))
        return cls(codes, categories)


@dataclass
class EnterpriseFrame:
    """Enterprise attributes column-wise, one row per credit code."""

    credit_codes: list[str]
    numbers: dict[str, npt.NDArray[np.float64]]
    flags: dict[str, npt.NDArray[np.int8]]
    categoricals: dict[str, Categorical]
    _known: dict[str, BoolArray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.credit_codes)

    def known(self, name: str) -> BoolArray:
        if name not in self._known:
            self._known[name] = ~np.isnan(self.numbers[name])
        return self._known[name]

    @classmethod
    def from_records(cls, credit_codes: list[str], records: Sequence[Mapping[str, Any]]) -> EnterpriseFrame:
        """From one attribute dict per enterprise (``None`` = unknown); every field of ``FIELDS`` is a column."""
        numbers: dict[str, npt.NDArray[np.float64]] = {}
        flags: dict[str, npt.NDArray[np.int8]] = {}
        categoricals: dict[str, Categorical] = {}
        for name, spec in FIELDS.items():
            column = [record.get(name) for record in records]
            if spec.kind == "number":
                numbers[name] = np.array([np.nan if v is None else float(v) for v in column], dtype=np.float64)
            elif spec.kind == "bool":
                flags[name] = np.array([-1 if v is None else int(bool(v)) for v in column], dtype=np.int8)
            else:
                categoricals[name] = Categorical.from_values(column)
        return cls(credit_codes, numbers, flags, categoricals)

    def row(self, index: int) -> dict[str, Any]:
        """One enterprise's attributes as plain Python values, for the row-by-row evaluator."""
        values: dict[str, Any] = {}
        for name, array in self.numbers.items():
            number = float(array[index])
            values[name] = None if number != number else number
        for name, flags in self.flags.items():
            flag = int(flags[index])
            values[name] = None if flag < 0 else bool(flag)
        for name, categorical in self.categoricals.items():
            code = int(categorical.codes[index])
            values[name] = categorical.categories[code - 1] if code > 0 else None
        return values

    def take(self, indexes: npt.NDArray[np.intp]) -> EnterpriseFrame:
        return EnterpriseFrame(
            [self.credit_codes[i] for i in indexes.tolist()],
            {k: v[indexes] for k, v in self.numbers.items()},
            {k: v[indexes] for k, v in self.flags.items()},
            {k: Categorical(v.codes[indexes], v.categories) for k, v in self.categoricals.items()},
        )


_NUMBER_OPS: dict[str, Callable[[npt.NDArray[np.float64], float], BoolArray]] = {
    "==": np.equal, ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
}


def compile_condition(condition: Mapping[str, Any]) -> Predicate:
    name, op, value = condition["field"], condition["op"], condition["value"]
    kind = FIELDS[name].kind
    if kind == "number":
        if op == "between":
            low, high = float(value[0]), float(value[1])
            return lambda f: (f.numbers[name] >= low) & (f.numbers[name] <= high)
        if op == "!=":
            target = float(value)
            return lambda f: (f.numbers[name] != target) & f.known(name)
        compare, target = _NUMBER_OPS[op], float(value)
        return lambda f: compare(f.numbers[name], target)
    if kind == "bool":
        wanted = np.int8(1 if value else 0)
        return lambda f: f.flags[name] == wanted
    if kind == "enum" and op in ("==", "!="):
        def enum_equal(f: EnterpriseFrame) -> BoolArray:
            column = f.categoricals[name]
            code = column.code_of(value)
            if op == "==":
                return np.equal(column.codes, code)
            return np.not_equal(column.codes, code) & np.greater(column.codes, 0)
        return enum_equal
    if kind == "enum":
        members = set(value)
        inside = op == "in"
        return lambda f: np.take(f.categoricals[name].lookup(lambda c: (c in members) == inside), f.categoricals[name].codes)
    prefixes = tuple(value)
    positive = op == "prefix"
    return lambda f: np.take(f.categoricals[name].lookup(lambda c: c.startswith(prefixes) == positive),
                             f.categoricals[name].codes)


def compile_node(node: Mapping[str, Any]) -> Predicate:
    if "field" in node:
        return compile_condition(node)
    kind = "all" if "all" in node else "any"
    parts = [compile_node(item) for item in node[kind]]

    def group(f: EnterpriseFrame) -> BoolArray:
        result = parts[0](f).copy()
        for part in parts[1:]:
            if kind == "all":
                result &= part(f)
            else:
                result |= part(f)
        return result

    return group


@dataclass(frozen=True)
class CompiledRule:
    kind: str  # all | any
    items: tuple[Predicate, ...]
    keys: tuple[str, ...]  # each item's canonical JSON: equal items of different policies share one column

    def item_masks(self, frame: EnterpriseFrame, shared: SharedMasks | None = None) -> list[BoolArray]:
        if shared is None:
            return [item(frame) for item in self.items]
        return [shared.get(key, item, frame) for key, item in zip(self.keys, self.items, strict=True)]


def compile_rule(rule: Mapping[str, Any]) -> CompiledRule:
    kind, items = top_items(rule)
    return CompiledRule(kind, tuple(compile_node(item) for item in items),
                        tuple(json.dumps(item, sort_keys=True, ensure_ascii=False) for item in items))


class SharedMasks:
    """Item columns that several policies repeat (存续, 企业, 纳税信用A/B/M, a district …), computed
    once per run and dropped after their last use, so memory stays a few columns."""

    def __init__(self, compiled: Sequence[CompiledRule]) -> None:
        self.remaining: dict[str, int] = {}
        for rule in compiled:
            for key in rule.keys:
                self.remaining[key] = self.remaining.get(key, 0) + 1
        self.masks: dict[str, BoolArray] = {}

    def get(self, key: str, item: Predicate, frame: EnterpriseFrame) -> BoolArray:
        uses = self.remaining.get(key, 1)
        mask = self.masks.pop(key, None) if uses <= 1 else self.masks.get(key)
        if mask is None:
            mask = item(frame)
            if uses > 1:
                self.masks[key] = mask
        self.remaining[key] = uses - 1
        return mask


@dataclass(frozen=True)
class MatchColumns:
    """One policy over a frame: who qualifies, who misses by exactly one item, and which item."""

    qualified: BoolArray
    near_miss: BoolArray
    failed_item: npt.NDArray[np.int16]  # for near misses: the index of the failing item, else -1


def match(
    frame: EnterpriseFrame, compiled: CompiledRule, *, with_failed_item: bool = False, shared: SharedMasks | None = None
) -> MatchColumns:
    masks = compiled.item_masks(frame, shared)
    size = len(frame)
    if compiled.kind == "any":
        qualified = np.zeros(size, dtype=np.bool_)
        for mask in masks:
            qualified |= mask
        return MatchColumns(qualified, np.zeros(size, dtype=np.bool_), np.full(size, -1, dtype=np.int16))
    failures = np.full(size, len(masks), dtype=np.int8)  # items failed = items - items passed
    for mask in masks:
        failures -= mask.view(np.int8)
    near_miss = failures == 1
    failed_item = np.full(size, -1, dtype=np.int16)
    if with_failed_item:
        for index, mask in enumerate(masks):
            failed_item[near_miss & ~mask] = index
    return MatchColumns(failures == 0, near_miss, failed_item)


def match_all(
    frame: EnterpriseFrame, compiled: Sequence[CompiledRule]
) -> Iterator[tuple[int, MatchColumns]]:
    """Each policy's match columns in turn (one policy's columns alive at a time: memory stays O(rows))."""
    shared = SharedMasks(compiled)
    for index, rule in enumerate(compiled):
        yield index, match(frame, rule, shared=shared)
