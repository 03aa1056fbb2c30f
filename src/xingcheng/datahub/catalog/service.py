"""The catalogue's logic: register datasets and schema versions, append validated rows, read them graded.

Metadata (the catalogue itself) is readable by every staff member; rows are read only through
``can_read`` with the dataset's ``ResourceDescriptor`` and delivered with the decision's per-field
treatment, masked over Arrow, and every delivery is audited with the hash of what left.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.grants.policy import AccessDecision, FieldSpec, ResourceDescriptor, rank
from xingcheng.core.grants.service import can_read
from xingcheng.core.identity.service import get_department_by_code
from xingcheng.core.masking import FIELD_KINDS
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.catalog import search as index
from xingcheng.datahub.catalog.ingest import REJECTED_LISTED, check_rows, read_upload
from xingcheng.datahub.catalog.models import Dataset, DatasetBatch, DatasetSchema, DatasetTag
from xingcheng.datahub.catalog.schemas import DatasetCreate
from xingcheng.datahub.catalog.schemas import FieldSpec as FieldIn
from xingcheng.datahub.catalog.storage import RowStore, arrow_schema, default_store

STEWARD_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD})


class ReadDenied(Forbidden):
    """A refused read. Its ``grant.decide`` entry is already recorded: the edge commits it before answering 403."""


def resource_key(dataset: Dataset) -> str:
    return f"dataset:{dataset.slug}"


def get(session: Session, *, owner: str, name: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.slug == f"{owner}/{name}"))


def get_or_raise(session: Session, *, owner: str, name: str) -> Dataset:
    dataset = get(session, owner=owner, name=name)
    if dataset is None:
        raise NotFound(f"no dataset {owner}/{name} in the catalogue")
    return dataset


def current_fields(session: Session, dataset: Dataset, version: int | None = None) -> list[dict[str, Any]]:
    wanted = version or dataset.schema_version
    fields = session.scalar(select(DatasetSchema.fields).where(DatasetSchema.dataset_id == dataset.id,
                                                               DatasetSchema.version == wanted))
    if fields is None:
        raise NotFound(f"dataset {dataset.slug} has no schema version {wanted}")
    return list(fields)


def require_write(principal: Principal, owner: str) -> None:
    """Stewards and admins curate every entry; department staff only their own department's."""
    principal.require("catalog:write")
    if not (principal.roles & STEWARD_ROLES) and principal.department_code != owner:
        raise Forbidden(f"only staff of department {owner!r} or a data steward can change its datasets")


def _field_texts(fields: list[dict[str, Any]]) -> list[str]:
    return [f"{f['title']} {f['name'].replace('_', ' ')}" for f in fields]


def create_dataset(session: Session, *, data: DatasetCreate, creator: Principal, now: datetime | None = None) -> Dataset:
    require_write(creator, data.owner_department_code)
    if get_department_by_code(session, code=data.owner_department_code) is None:
        raise Invalid(f"no department with code {data.owner_department_code!r}")
    slug = f"{data.owner_department_code}/{data.name}"
    if session.scalar(select(Dataset.id).where(Dataset.slug == slug)) is not None:
        raise Conflict(f"dataset {slug} already exists")
    now = now or utcnow()
    values = data.model_dump(exclude={"fields"})
    dataset = Dataset(slug=slug, schema_version=1, row_count=0, **values)
    session.add(dataset)
    session.flush()
    fields = [f.model_dump() for f in data.fields]
    session.add(DatasetSchema(dataset_id=dataset.id, version=1, fields=fields, created_at=now, created_by=creator.name))
    session.add_all(DatasetTag(dataset_id=dataset.id, tag=t) for t in data.tags)
    index.index_dataset(session, dataset, _field_texts(fields))
    session.flush()
    audit.record(session, actor=creator, action="catalog.dataset.create", subject=resource_key(dataset),
                 details={"grade": dataset.grade, "category": dataset.category, "fields": len(fields)})
    return dataset


def update_schema(session: Session, *, dataset: Dataset, fields: list[FieldIn], editor: Principal) -> Dataset:
    """A new schema version when ``fields`` differ from the current ones; rows stay with their version."""
    require_write(editor, dataset.owner_department_code)
    new = [f.model_dump() for f in fields]
    if new == current_fields(session, dataset):
        return dataset
    highest = max((f.grade for f in fields), key=rank)
    if rank(highest) > rank(dataset.grade):
        raise Invalid(f"dataset {dataset.slug} is {dataset.grade} but a field is {highest}: raise the dataset grade first")
    dataset.schema_version += 1
    dataset.row_count, dataset.last_row_update = 0, None
    session.add(DatasetSchema(dataset_id=dataset.id, version=dataset.schema_version, fields=new, created_at=utcnow(),
                              created_by=editor.name))
    index.index_dataset(session, dataset, _field_texts(new))
    session.flush()
    audit.record(session, actor=editor, action="catalog.schema.version", subject=resource_key(dataset),
                 details={"version": dataset.schema_version, "fields": len(new)})
    return dataset


def descriptor(session: Session, dataset: Dataset, version: int | None = None) -> ResourceDescriptor:
    """The plain description ``can_read`` decides on: key, owner, grade and per-field grade and kind."""
    fields = {f["name"]: FieldSpec(f["grade"], f["kind"] if f["kind"] in FIELD_KINDS else None)
              for f in current_fields(session, dataset, version)}
    return ResourceDescriptor(key=resource_key(dataset), owner_department_code=dataset.owner_department_code,
                              grade=dataset.grade, fields=fields)  # type: ignore[arg-type]


def append_table(session: Session, *, dataset: Dataset, table: pa.Table, actor: Principal | str, source: str,
                 received: int | None = None, rejected: int = 0, store: RowStore | None = None,
                 now: datetime | None = None) -> DatasetBatch:
    """Store already-validated rows of the current version as one part, and count them."""
    now = now or utcnow()
    part = None
    if table.num_rows:
        owner, name = dataset.slug.split("/", 1)
        part = (store or default_store()).append(owner, name, dataset.schema_version, table)
        dataset.row_count += table.num_rows
        dataset.last_row_update = now
    batch = DatasetBatch(dataset_id=dataset.id, schema_version=dataset.schema_version, part=part,
                         rows_received=table.num_rows + rejected if received is None else received,
                         rows_accepted=table.num_rows, rows_rejected=rejected, source=source[:200],
                         uploaded_by=actor if isinstance(actor, str) else actor.name, created_at=now)
    session.add(batch)
    session.flush()
    return batch


def upload(session: Session, *, dataset: Dataset, content: bytes, filename: str, uploader: Principal,
           store: RowStore | None = None) -> dict[str, Any]:
    """Validate a CSV/Parquet upload against the current schema; keep the good rows, report every bad one."""
    require_write(uploader, dataset.owner_department_code)
    if not content:
        raise Invalid("the upload is empty")
    checked = check_rows(read_upload(content, filename), current_fields(session, dataset))
    batch = append_table(session, dataset=dataset, table=checked.table, actor=uploader, source=filename or "upload",
                         received=checked.received, rejected=checked.rejected_count, store=store)
    audit.record(session, actor=uploader, action="catalog.rows.upload", subject=resource_key(dataset),
                 result="partial" if checked.rejected_count else "ok",
                 details={"batch_id": batch.id, "received": checked.received, "accepted": checked.table.num_rows,
                          "rejected": checked.rejected_count, "version": dataset.schema_version})
    return {
        "batch_id": batch.id, "schema_version": dataset.schema_version, "rows_received": checked.received,
        "rows_accepted": checked.table.num_rows, "rows_rejected": checked.rejected_count,
        "rejected": [{"row": row, "reasons": reasons} for row, reasons in checked.rejected],
        "rejected_listed": min(checked.rejected_count, REJECTED_LISTED), "row_count": dataset.row_count,
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def canonical_hash(items: list[dict[str, Any]]) -> str:
    text = json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def read_rows(session: Session, *, dataset: Dataset, reader: Principal, purpose: str, page: PageParams,
              action: str = "catalog.rows.read", store: RowStore | None = None) -> dict[str, Any]:
    """A page of rows as the grade rules let ``reader`` see them; the decision and the delivery are audited."""
    decision: AccessDecision = can_read(session, reader, descriptor(session, dataset), purpose)
    if not decision.allowed:
        raise ReadDenied(decision.reason)
    fields = current_fields(session, dataset)
    parts = session.execute(
        select(DatasetBatch.part, DatasetBatch.rows_accepted)
        .where(DatasetBatch.dataset_id == dataset.id, DatasetBatch.schema_version == dataset.schema_version,
               DatasetBatch.part.is_not(None)).order_by(DatasetBatch.id)
    ).all()
    table = (store or default_store()).read([(str(p), int(n)) for p, n in parts], arrow_schema(fields),
                                            offset=page.offset, limit=page.limit)
    delivered = decision.apply_table(table)
    items = [{k: _plain(v) for k, v in row.items()} for row in delivered.to_pylist()]
    digest = canonical_hash(items)
    treatments = {n: t.action if t.action != "masked" else f"masked:{t.level}"
                  for n in table.column_names for t in [decision.treatment(n)]}
    audit.record(session, actor=reader, action=action, subject=resource_key(dataset), purpose=decision.purpose or None,
                 result=decision.basis, content_hash=bytes.fromhex(digest),
                 details={"rows": len(items), "offset": page.offset, "version": dataset.schema_version,
                          "fields": treatments, "grant_ids": list(decision.grant_ids)})
    return {"dataset": dataset.slug, "schema_version": dataset.schema_version, "purpose": decision.purpose,
            "basis": decision.basis, "fields": treatments, "items": items, "total": dataset.row_count,
            "limit": page.limit, "offset": page.offset, "content_hash": digest}


def dataset_view(session: Session, dataset: Dataset, score: float | None = None, *, with_fields: bool = True) -> dict[str, Any]:
    view = {c: getattr(dataset, c) for c in (
        "slug", "owner_department_code", "name", "title", "description", "category", "grade", "update_frequency", "tags",
        "schema_version", "row_count", "last_row_update")}
    view["score"] = score
    if with_fields:
        view.update({c: getattr(dataset, c) for c in (
            "source_system", "spatial_coverage", "temporal_start", "temporal_end", "licence", "created_at", "updated_at")})
        view["fields"] = current_fields(session, dataset)
    return view


def search_datasets(session: Session, *, q: str | None, page: PageParams, department: str | None = None,
                    category: str | None = None, grade: str | None = None, tag: str | None = None) -> dict[str, Any]:
    filters = {"department": department, "category": category, "grade": grade, "tag": tag}
    items, total, facets = index.search(session, q=q, filters=filters, limit=page.limit, offset=page.offset)
    return {"items": [dataset_view(session, d, s, with_fields=False) for d, s in items], "total": total,
            "limit": page.limit, "offset": page.offset,
            "facets": {k: [{"value": v, "count": c} for v, c in rows] for k, rows in facets.items()}}

