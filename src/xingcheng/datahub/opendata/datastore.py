"""Row-level queries over a public dataset's stored Parquet parts (CKAN ``datastore_search``), in DuckDB.

Each query opens an in-memory DuckDB connection over the part files of the current schema
version; every identifier is checked against the schema and every value is a bound parameter.
``_id`` is the row's 1-based position in upload order (part offset + row number in the file).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from xingcheng.core.errors import Invalid

MAX_LIMIT = 32_000  # CKAN's ckan.datastore.search.rows_max default
CKAN_TYPES = {"string": "text", "int": "int8", "float": "float8", "bool": "bool", "date": "date", "timestamp": "timestamp"}


@dataclass
class RowQuery:
    filters: dict[str, Any] = field(default_factory=dict)
    q: str | dict[str, str] = ""
    limit: int = 100
    offset: int = 0
    fields: list[str] | None = None
    sort: str = ""
    include_total: bool = True


def field_infos(fields: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """CKAN's ``fields`` metadata: ``_id`` first, then each column with its type and label."""
    return [{"id": "_id", "type": "int"}] + [
        {"id": f["name"], "type": CKAN_TYPES[f["type"]], "info": {"label": f["title"], "notes": ""}} for f in fields]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bad(parameter: str, message: str) -> Invalid:
    return Invalid(message, errors=[{"field": parameter, "message": message}])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def search(paths: Sequence[tuple[Path, int]], fields: Sequence[dict[str, Any]], query: RowQuery) -> dict[str, Any]:
    """``records`` (objects), ``total`` and the ``fields`` shown, for the parts (path, row count) in order."""
    names = [f["name"] for f in fields]
    types = {f["name"]: f["type"] for f in fields}
    shown = query.fields or ["_id", *names]
    unknown = [n for n in shown if n != "_id" and n not in types]
    if unknown:
        raise _bad("fields", f'field "{unknown[0]}" not in the resource; fields: {", ".join(names)}')
    where: list[str] = []
    params: list[Any] = []
    for name, value in query.filters.items():
        if name != "_id" and name not in types:
            raise _bad("filters", f'field "{name}" not in the resource; fields: {", ".join(names)}')
        values = value if isinstance(value, list) else [value]
        if not values:
            raise _bad("filters", f'filter "{name}" has an empty list of values')
        column = "CAST(_id AS VARCHAR)" if name == "_id" else f"CAST({_ident(name)} AS VARCHAR)"
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(_text(v) for v in values)
    text_columns = [n for n in names if types[n] == "string"]
    if isinstance(query.q, dict):
        for name, words in query.q.items():
            if name not in types:
                raise _bad("q", f'field "{name}" not in the resource')
            for word in str(words).split():
                where.append(f"CAST({_ident(name)} AS VARCHAR) ILIKE ? ESCAPE '\\'")
                params.append(f"%{_like(word)}%")
    elif query.q.strip():
        haystack = "concat_ws(' ', " + ", ".join(f"CAST({_ident(n)} AS VARCHAR)" for n in (text_columns or names)) + ")"
        for word in query.q.split():
            where.append(f"{haystack} ILIKE ? ESCAPE '\\'")
            params.append(f"%{_like(word)}%")
    order = _order(query.sort, types)
    infos = {i["id"]: i for i in field_infos(fields)}
    result: dict[str, Any] = {"fields": [infos[n] for n in shown], "records": [], "total": 0}
    if not paths:
        return result
    files = [str(p) for p, _ in paths]
    starts, running = [], 0
    for _, count in paths:
        starts.append(running)
        running += count
    offsets = " ".join(f"WHEN filename = ? THEN {start}" for start in starts)
    source = (f"(SELECT *, CASE {offsets} END + file_row_number + 1 AS _id "  # noqa: S608 — only placeholders
              "FROM read_parquet(?, filename = true, file_row_number = true))")
    source_params: list[Any] = [*files, files]
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    select_list = ", ".join(_ident(n) for n in shown)
    connection = duckdb.connect(config={"threads": 2})
    try:
        rows = connection.execute(
            f"SELECT {select_list} FROM {source} AS t{clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608 — identifiers checked
            [*source_params, *params, query.limit, query.offset]).fetchall()
        if query.include_total:
            result["total"] = int(connection.execute(f"SELECT count(*) FROM {source} AS t{clause}",  # noqa: S608
                                                     [*source_params, *params]).fetchone()[0])  # type: ignore[index]
    finally:
        connection.close()
    result["records"] = [{n: _plain(v) for n, v in zip(shown, row, strict=True)} for row in rows]
    return result


def _like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _order(sort: str, types: dict[str, str]) -> str:
    parts = []
    for piece in (sort or "").split(","):
        bits = piece.split()
        if not bits:
            continue
        name = bits[0].strip('"')
        direction = bits[1].lower() if len(bits) > 1 else "asc"
        if (name != "_id" and name not in types) or direction not in ("asc", "desc") or len(bits) > 2:
            raise _bad("sort", f'cannot sort by "{piece.strip()}": use <field> asc|desc with a field of the resource')
        parts.append(f"{_ident(name)} {direction.upper()} NULLS LAST")
    return ", ".join([*parts, "_id"])
