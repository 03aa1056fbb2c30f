"""Upload validation: a CSV or Parquet batch checked against the schema, vectorised over Arrow.

Every cell is read as text first, then each field is checked and cast with Arrow kernels: type
(int, float, bool, date, timestamp), required, and the national-standard validators of
``xingcheng.core.ids`` for ID numbers, mobile numbers and credit codes (run once per distinct
value, then spread back over the column). A row with any bad cell is rejected with its 1-based
row number and every reason; the good rows are kept. Nothing is dropped without a report.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from xingcheng.core.errors import Invalid
from xingcheng.core.ids import validate_credit_code, validate_id_number, validate_mobile
from xingcheng.datahub.catalog.storage import ARROW_TYPES

REJECTED_LISTED = 100  # rejected rows listed one by one; the counts always cover all of them
MAX_ROWS = 1_000_000

VALIDATORS: dict[str, Callable[[str], str]] = {
    "id_number": validate_id_number, "phone": validate_mobile, "credit_code": validate_credit_code,
}
_INT = r"^[+-]?[0-9]{1,18}$"
_FLOAT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$"
_TRUE, _FALSE = ["true", "1", "yes", "是", "t", "y"], ["false", "0", "no", "否", "f", "n"]


@dataclass
class Checked:
    table: pa.Table  # the accepted rows, typed per the schema
    received: int
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)  # (row, reasons), capped
    rejected_count: int = 0


def read_upload(content: bytes, filename: str) -> pa.Table:
    """The upload as an all-text table; CSV (UTF-8, header row) or Parquet by name or magic bytes."""
    try:
        if content[:4] == b"PAR1" or filename.lower().endswith(".parquet"):
            table = pq.read_table(io.BytesIO(content))
            return pa.table({n: pc.cast(table.column(n), pa.string()) for n in table.column_names})
        names = _csv_names(content)
        options = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False)
        return pacsv.read_csv(io.BytesIO(content), convert_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        raise Invalid(f"cannot read {filename or 'the upload'} as CSV or Parquet: {exc}") from None


def _csv_names(content: bytes) -> list[str]:
    reader = pacsv.open_csv(io.BytesIO(content))
    return list(reader.schema.names)


def _text_mask(column: pa.ChunkedArray, pattern: str) -> pa.ChunkedArray:
    return pc.match_substring_regex(column, pattern, ignore_case=True)


def _cast(column: pa.ChunkedArray, spec: dict[str, Any]) -> tuple[pa.ChunkedArray, pa.ChunkedArray, str]:
    """(typed column with nulls where bad, bad-cell mask, reason) for a non-empty text column."""
    kind, ftype = spec.get("kind", "free"), spec["type"]
    if ftype == "string":
        validator = VALIDATORS.get(kind)
        if validator is None:
            return column, pc.is_null(column), ""
        return _validate_kind(column, validator, kind)
    if ftype == "int":
        ok = _text_mask(column, _INT)
        return pc.cast(pc.if_else(ok, column, None), pa.int64()), pc.invert(ok), "not an integer"
    if ftype == "float":
        ok = _text_mask(column, _FLOAT)
        return pc.cast(pc.if_else(ok, column, None), pa.float64()), pc.invert(ok), "not a number"
    if ftype == "bool":
        lowered = pc.utf8_lower(column)
        truthy, falsy = pc.is_in(lowered, pa.array(_TRUE)), pc.is_in(lowered, pa.array(_FALSE))
        ok = pc.or_(truthy, falsy)
        return pc.if_else(ok, truthy, None), pc.invert(ok), "not true/false"
    if ftype == "date":
        parsed = _strict_time(column, "%Y-%m-%d")
        return pc.cast(parsed, pa.date32()), pc.is_null(parsed), "not a date (YYYY-MM-DD)"
    normal = pc.replace_substring_regex(column, r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|\+00:00)?$", r"\1T\2")
    parsed = _strict_time(normal, "%Y-%m-%dT%H:%M:%S")
    return pc.assume_timezone(parsed, "UTC"), pc.is_null(parsed), "not a timestamp (YYYY-MM-DDTHH:MM:SS, UTC)"


def _strict_time(column: pa.ChunkedArray, fmt: str) -> pa.ChunkedArray:
    # strptime rolls 2026-02-30 over to 03-02: only values that format back to themselves are real.
    parsed = pc.strptime(column, format=fmt, unit="s", error_is_null=True)
    same = pc.equal(pc.strftime(parsed, format=fmt), column)
    return pc.if_else(pc.fill_null(same, False), parsed, None)


def _validate_kind(column: pa.ChunkedArray, validator: Callable[[str], str], kind: str,
                   ) -> tuple[pa.ChunkedArray, pa.ChunkedArray, str]:
    # The validators are exact but scalar: run them once per distinct value, then take() back.
    distinct = pc.unique(column)
    normalised: list[str | None] = []
    for value in distinct.to_pylist():
        try:
            normalised.append(None if value is None else validator(value))
        except ValueError:
            normalised.append(None)
    index = pc.index_in(column, distinct)
    typed = pc.take(pa.array(normalised, pa.string()), index)
    return typed, pc.is_null(typed), f"invalid {kind}"


def check_rows(raw: pa.Table, fields: Sequence[dict[str, Any]]) -> Checked:
    """Validate ``raw`` (all text) against ``fields``; the accepted rows come back typed."""
    repeated = sorted({n for n in raw.column_names if raw.column_names.count(n) > 1})
    if repeated:
        raise Invalid(f"columns appear more than once: {', '.join(repeated)}")
    known = {f["name"] for f in fields}
    unknown = [n for n in raw.column_names if n not in known]
    if unknown:
        raise Invalid(f"columns not in the dataset schema: {', '.join(unknown)} (add them to the schema first)")
    missing = [f["name"] for f in fields if f.get("required") and f["name"] not in raw.column_names]
    if missing:
        raise Invalid(f"required columns missing: {', '.join(missing)}")
    if raw.num_rows > MAX_ROWS:
        raise Invalid(f"one upload takes at most {MAX_ROWS:,} rows; split the file")
    n = raw.num_rows
    columns: dict[str, pa.ChunkedArray] = {}
    problems: list[tuple[str, pa.ChunkedArray, str]] = []  # (field, bad mask, reason)
    for spec in fields:
        name = spec["name"]
        if name not in raw.column_names:
            columns[name] = pa.chunked_array([pa.nulls(n, ARROW_TYPES[spec["type"]])])
            continue
        text = pc.utf8_trim_whitespace(raw.column(name))
        empty = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True)  # null or blank
        text = pc.if_else(empty, None, text)
        typed, bad, reason = _cast(text, spec)
        bad = pc.and_(pc.invert(empty), pc.fill_null(bad, True))
        if spec.get("required"):
            problems.append((name, empty, "required"))
        if reason:
            problems.append((name, bad, reason))
        columns[name] = typed
    rejected_mask = pa.chunked_array([pa.array([False] * n, pa.bool_())]) if n else pa.chunked_array([], pa.bool_())
    for _, mask, _ in problems:
        rejected_mask = pc.or_(rejected_mask, pc.fill_null(mask, True))
    typed_table = pa.table(columns, schema=pa.schema([pa.field(f["name"], ARROW_TYPES[f["type"]]) for f in fields]))
    rejected_rows = pc.indices_nonzero(rejected_mask).to_pylist() if n else []
    listed: list[tuple[int, list[str]]] = []
    if rejected_rows:
        shown = pa.array(rejected_rows[:REJECTED_LISTED], pa.int64())
        picked = [(name, pc.take(mask, shown).to_pylist(), reason) for name, mask, reason in problems]
        for i, row in enumerate(shown.to_pylist()):
            listed.append((row + 1, [f"{name}: {reason}" for name, values, reason in picked if values[i]]))
    accepted = typed_table.filter(pc.invert(rejected_mask)) if n else typed_table
    return Checked(table=accepted, received=n, rejected=listed, rejected_count=len(rejected_rows))
