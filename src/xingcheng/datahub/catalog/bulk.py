"""Bulk registration for loaders (demo steps, imports): many datasets and their first rows in a few statements.

Writes exactly what ``service.create_dataset`` and ``service.append_table`` write — dataset,
schema version 1, tags, search tokens, batches, one ``catalog.dataset.create`` audit entry per
dataset — with executemany inserts and each distinct text segmented once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Conflict, Invalid
from xingcheng.core.identity.models import Department
from xingcheng.datahub.catalog import search as index
from xingcheng.datahub.catalog.models import Dataset, DatasetBatch, DatasetSchema, DatasetTag, SearchToken
from xingcheng.datahub.catalog.schemas import DatasetCreate
from xingcheng.datahub.catalog.service import require_write
from xingcheng.datahub.catalog.storage import RowStore, default_store


def register_many(session: Session, items: Sequence[tuple[DatasetCreate, pa.Table | None]], *, creator: Principal,
                  now: datetime, store: RowStore | None = None) -> list[Dataset]:
    """Create every dataset (validated models) and store its rows (already typed per its schema), in order."""
    for data, _ in items:
        require_write(creator, data.owner_department_code)
    known = set(session.scalars(select(Department.code)))
    unknown = sorted({d.owner_department_code for d, _ in items} - known)
    if unknown:
        raise Invalid(f"no department with code {unknown[0]!r}")
    slugs = [f"{d.owner_department_code}/{d.name}" for d, _ in items]
    taken = session.scalars(select(Dataset.slug).where(Dataset.slug.in_(slugs))).first()
    if taken or len(set(slugs)) != len(slugs):
        raise Conflict(f"dataset {taken or 'slug'} already exists or is repeated")
    lake = store or default_store()
    cache: dict[str, list[str]] = {}

    def tokens(text: str) -> list[str]:
        if text not in cache:
            cache[text] = index.tokens(text)
        return cache[text]

    rows: list[dict[str, Any]] = []
    for (data, table), slug in zip(items, slugs, strict=True):
        values = data.model_dump(exclude={"fields"})
        count = table.num_rows if table is not None else 0
        rows.append({**values, "slug": slug, "schema_version": 1, "row_count": count,
                     "last_row_update": now if count else None, "search_length": 0, "created_at": now, "updated_at": now})
    session.execute(insert(cast(Table, Dataset.__table__)), rows)
    ids = dict(session.execute(select(Dataset.slug, Dataset.id).where(Dataset.slug.in_(slugs))).all())
    schemas: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    postings: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
    events: list[audit.AuditEvent] = []
    lengths: dict[int, int] = {}
    for (data, table), slug in zip(items, slugs, strict=True):
        dataset_id = ids[slug]
        fields = [f.model_dump() for f in data.fields]
        schemas.append({"dataset_id": dataset_id, "version": 1, "fields": fields, "created_at": now, "created_by": creator.name})
        tags.extend({"dataset_id": dataset_id, "tag": t} for t in data.tags)
        counts: dict[str, float] = {}
        parts = {"title": [data.title], "description": [data.description], "tags": list(data.tags),
                 "fields": [f"{f['title']} {f['name'].replace('_', ' ')}" for f in fields],
                 "slug": [slug.replace("/", " ").replace("-", " ")]}
        for part, texts in parts.items():
            for text in texts:
                for token in tokens(text):
                    counts[token] = counts.get(token, 0.0) + index.WEIGHTS[part]
        postings.extend({"dataset_id": dataset_id, "token": t, "tf": tf} for t, tf in counts.items())
        lengths[dataset_id] = max(1, round(sum(counts.values())))
        if table is not None and table.num_rows:
            owner, name = slug.split("/", 1)
            part = lake.append(owner, name, 1, table)
            batches.append({"dataset_id": dataset_id, "schema_version": 1, "part": part, "rows_received": table.num_rows,
                            "rows_accepted": table.num_rows, "rows_rejected": 0, "source": "bulk",
                            "uploaded_by": creator.name, "created_at": now})
        events.append(audit.AuditEvent(actor=creator, action="catalog.dataset.create", subject=f"dataset:{slug}",
                                       details={"grade": data.grade, "category": data.category, "fields": len(fields)}))
    for model, values_list in ((DatasetSchema, schemas), (DatasetTag, tags), (SearchToken, postings),
                               (DatasetBatch, batches)):
        if values_list:
            session.execute(insert(cast(Table, model.__table__)), values_list)
    datasets = list(session.scalars(select(Dataset).where(Dataset.id.in_(list(ids.values())))))
    for dataset in datasets:
        dataset.search_length = lengths[dataset.id]
    audit.record_many(session, events)
    session.flush()
    order = {slug: i for i, slug in enumerate(slugs)}
    return sorted(datasets, key=lambda d: order[d.slug])


def append_many(session: Session, items: Sequence[tuple[Dataset, pa.Table]], *, actor: str, now: datetime,
                store: RowStore | None = None) -> int:
    """Append one typed table per dataset (current schema version) as ``append_table`` does, batched."""
    lake = store or default_store()
    batches = []
    for dataset, table in items:
        if not table.num_rows:
            continue
        owner, name = dataset.slug.split("/", 1)
        part = lake.append(owner, name, dataset.schema_version, table)
        dataset.row_count += table.num_rows
        dataset.last_row_update = now
        batches.append({"dataset_id": dataset.id, "schema_version": dataset.schema_version, "part": part,
                        "rows_received": table.num_rows, "rows_accepted": table.num_rows, "rows_rejected": 0,
                        "source": "bulk", "uploaded_by": actor, "created_at": now})
    if batches:
        session.execute(insert(cast(Table, DatasetBatch.__table__)), batches)
    session.flush()
    return sum(b["rows_accepted"] for b in batches)
