"""Catalogue routes: search with facets, dataset detail, create, schema versions, uploads, graded row reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination, require
from xingcheng.core.errors import PayloadTooLarge
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.catalog import service
from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.catalog.schemas import (
    DEPARTMENT_PATTERN,
    NAME_PATTERN,
    DatasetCreate,
    DatasetRead,
    DatasetSearchPage,
    RowsRead,
    SchemaUpdate,
    UploadResult,
)

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

Reader = Annotated[Principal, Depends(require("catalog:read"))]
Writer = Annotated[Principal, Depends(require("catalog:write"))]
Owner = Annotated[str, Path(pattern=DEPARTMENT_PATTERN, description="owning department code")]
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="dataset name (CKAN rules)")]
Purpose = Annotated[str, Query(max_length=100, description="why the rows are read (required for L3/L4)")]
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
SAMPLE_ROWS = 10


def load_dataset(session: DbSession, owner: Owner, name: Name) -> Dataset:
    return service.get_or_raise(session, owner=owner, name=name)


LoadedDataset = Annotated[Dataset, Depends(load_dataset)]


@router.get("/datasets", response_model=DatasetSearchPage, operation_id="catalog-datasets-list")
def list_datasets(
    session: DbSession, page: Pagination, _: Reader,
    # Plain strings ("" = no filter) rather than optional values: simpler for clients and fuzzers alike.
    q: Annotated[str, Query(max_length=200, description="Chinese full-text query")] = "",
    department: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_]{0,31})?$")] = "",
    category: Annotated[str, Query(pattern="^(base|sector|thematic)?$", description="base | sector | thematic")] = "",
    grade: Annotated[str, Query(pattern="^(L[1-4])?$", description="L1 … L4")] = "",
    tag: Annotated[str, Query(max_length=32)] = "",
) -> Any:
    return service.search_datasets(session, q=q or None, page=page, department=department or None, category=category or None,
                                   grade=grade or None, tag=tag or None)


@router.post("/datasets", response_model=DatasetRead, status_code=201, operation_id="catalog-datasets-create")
def create_dataset(data: DatasetCreate, session: DbSession, writer: Writer) -> Any:
    dataset = service.create_dataset(session, data=data, creator=writer)
    return service.dataset_view(session, dataset)


@router.get("/datasets/{owner}/{name}", response_model=DatasetRead, operation_id="catalog-datasets-get")
def get_dataset(dataset: LoadedDataset, session: DbSession, _: Reader) -> Any:
    return service.dataset_view(session, dataset)


@router.put("/datasets/{owner}/{name}/schema", response_model=DatasetRead, operation_id="catalog-datasets-schema-update")
def update_schema(data: SchemaUpdate, dataset: LoadedDataset, session: DbSession, writer: Writer) -> Any:
    service.update_schema(session, dataset=dataset, fields=data.fields, editor=writer)
    return service.dataset_view(session, dataset)


@router.post("/datasets/{owner}/{name}/rows", response_model=UploadResult, operation_id="catalog-datasets-rows-upload")
def upload_rows(dataset: LoadedDataset, session: DbSession, writer: Writer,
                      file: Annotated[UploadFile, File(description="CSV (UTF-8, header row) or Parquet")]) -> Any:
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"uploads are limited to {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return service.upload(session, dataset=dataset, content=content, filename=file.filename or "", uploader=writer)


def _graded_read(session: Session, dataset: Dataset, reader: Principal, purpose: str, page: PageParams, action: str) -> Any:
    try:
        return service.read_rows(session, dataset=dataset, reader=reader, purpose=purpose, page=page, action=action)
    except service.ReadDenied:
        session.commit()  # a refusal is audited too: keep its grant.decide entry, then answer 403
        raise


@router.get("/datasets/{owner}/{name}/rows", response_model=RowsRead, operation_id="catalog-datasets-rows-read")
def read_rows(dataset: LoadedDataset, session: DbSession, page: Pagination, reader: Reader, purpose: Purpose = "") -> Any:
    return _graded_read(session, dataset, reader, purpose, page, "catalog.rows.read")


@router.get("/datasets/{owner}/{name}/sample", response_model=RowsRead, operation_id="catalog-datasets-sample")
def sample_rows(dataset: LoadedDataset, session: DbSession, reader: Reader, purpose: Purpose = "") -> Any:
    return _graded_read(session, dataset, reader, purpose, PageParams(limit=SAMPLE_ROWS, offset=0), "catalog.rows.sample")
