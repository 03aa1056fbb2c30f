"""Open-data routes: publishing (staff, login) and the public side (downloads, DCAT-AP feeds, the CKAN API).

The public router is mounted without login on purpose: it serves only L1 datasets that were
published (``service.is_public``), which is open data by definition.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from xingcheng.core.auth import Principal
from xingcheng.core.deps import DbSession, Pagination
from xingcheng.core.deps import require as require_permission
from xingcheng.datahub.catalog.schemas import DEPARTMENT_PATTERN, NAME_PATTERN
from xingcheng.datahub.opendata import actions, service
from xingcheng.datahub.opendata.ckan import router as ckan_router
from xingcheng.datahub.opendata.schemas import PackagePage, PackageRead, PublishRequest

router = APIRouter(prefix="/api/v1/opendata", tags=["opendata"])
public_router = APIRouter()

Publisher = Annotated[Principal, Depends(require_permission("opendata:publish"))]
Reader = Annotated[Principal, Depends(require_permission("catalog:read"))]
Owner = Annotated[str, Path(pattern=DEPARTMENT_PATTERN, description="owning department code")]
Name = Annotated[str, Path(pattern=NAME_PATTERN, description="dataset name")]
JSONLD = "application/ld+json"


def _base(request: Request) -> str:
    return str(request.base_url)


@router.post("/packages", response_model=PackageRead, status_code=201, operation_id="opendata-packages-publish")
def publish(data: PublishRequest, session: DbSession, publisher: Publisher, request: Request) -> Any:
    """Publish an L1 catalogue dataset (own department, or any as a data steward); L2+ is refused with 409."""
    package = service.publish(session, dataset_slug=data.dataset, publisher=publisher, theme=data.theme, notes=data.notes)
    return service.package_view(session, package, _base(request))


@router.get("/packages", response_model=PackagePage, operation_id="opendata-packages-list")
def list_packages(
    session: DbSession, page: Pagination, _: Reader, request: Request,
    state: Annotated[str, Query(pattern="^(active|withdrawn)?$")] = "",
    department: Annotated[str, Query(pattern=r"^([a-z][a-z0-9_]{0,31})?$")] = "",
    q: Annotated[str, Query(max_length=200)] = "",
) -> Any:
    """Every package, withdrawn ones included (staff view)."""
    return service.list_packages(session, page=page, base_url=_base(request), state=state or None,
                                 department=department or None, q=q or None)


@router.get("/packages/{owner}/{name}", response_model=PackageRead, operation_id="opendata-packages-get")
def get_package(owner: Owner, name: Name, session: DbSession, _: Reader, request: Request) -> Any:
    package = service.get_package_or_raise(session, dataset_slug=f"{owner}/{name}")
    return service.package_view(session, package, _base(request))


@router.delete("/packages/{owner}/{name}", response_model=PackageRead, operation_id="opendata-packages-withdraw")
def withdraw(owner: Owner, name: Name, session: DbSession, publisher: Publisher, request: Request) -> Any:
    """Take a package off the portal at once (search, downloads and datastore all stop serving it)."""
    package = service.withdraw(session, dataset_slug=f"{owner}/{name}", actor=publisher)
    return service.package_view(session, package, _base(request))


# ---- public ----------------------------------------------------------------------------------------

ResourceId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$", description="CKAN resource id")]


@public_router.get("/api/v1/opendata/resources/{resource_id}/download", operation_id="opendata-resources-download",
                   tags=["opendata"], response_class=StreamingResponse,
                   responses={200: {"content": {"text/csv": {}, "application/json": {}, "application/vnd.apache.parquet": {}}}})
def download(resource_id: ResourceId, session: DbSession) -> StreamingResponse:
    """The resource's file (CSV, JSON or Parquet), generated from the stored rows and streamed."""
    filename, media_type, chunks = service.download(session, resource_id=resource_id)
    return StreamingResponse(chunks, media_type=media_type,
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@public_router.get("/api/v1/opendata/dcat/catalog.jsonld", operation_id="opendata-dcat-catalog", tags=["opendata"],
                   response_class=JSONResponse, responses={200: {"content": {JSONLD: {}}}})
def dcat_catalog(session: DbSession, request: Request, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                 per_page: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    """The open catalogue as a DCAT-AP 3.0 ``dcat:Catalog`` (JSON-LD), paged with hydra links."""
    document = actions.dcat_catalog(session, page=page, per_page=per_page, base_url=_base(request))
    return JSONResponse(document, media_type=JSONLD)


@public_router.get("/api/v1/opendata/dcat/datasets/{owner}/{name}.jsonld", operation_id="opendata-dcat-dataset",
                   tags=["opendata"], response_class=JSONResponse, responses={200: {"content": {JSONLD: {}}}})
def dcat_dataset(owner: Owner, name: Name, session: DbSession, request: Request) -> JSONResponse:
    """One public dataset as a DCAT-AP 3.0 ``dcat:Dataset`` with its distributions (JSON-LD)."""
    document = actions.dcat_dataset(session, key=f"{owner}/{name}", base_url=_base(request))
    return JSONResponse(document, media_type=JSONLD)


public_router.include_router(ckan_router)
