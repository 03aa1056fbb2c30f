"""Publishing L1 catalogue datasets to the open portal, and the one rule of what the public may see.

Only a dataset graded L1 (公开) can be published, by staff of its own department or a data
steward. The public sees a package while it is active AND its dataset is still L1: regrading a
published dataset upward hides it at once, everywhere (search, facets, downloads, datastore).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, insert, or_, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.grants.policy import rank
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.catalog import export
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.opendata.constants import DEPARTMENT_THEMES, EXTENSIONS, FORMATS, MEDIA_TYPES, THEMES
from xingcheng.datahub.opendata.models import OpenPackage, OpenResource

NAMESPACE = uuid.UUID("6f1c3b2e-8d4a-5e7f-9a0b-1c2d3e4f5a6b")  # ids stay the same across rebuilds and republishing
PUBLIC_GRADE = "L1"
STEWARD_ROLES = frozenset({Role.ADMIN, Role.DATA_STEWARD})


def package_uuid(slug: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"package:{slug}"))


def resource_uuid(slug: str, fmt: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"resource:{slug}:{fmt}"))


def is_public() -> ColumnElement[bool]:
    """The visibility rule, as SQL over OpenPackage joined to Dataset."""
    return and_(OpenPackage.state == "active", Dataset.grade == PUBLIC_GRADE)


def public_ids() -> Select[int]:
    """Ids of the datasets the public may see."""
    return select(Dataset.id).join(OpenPackage, OpenPackage.dataset_id == Dataset.id).where(is_public())


def _require_publisher(principal: Principal, owner: str) -> None:
    principal.require("opendata:publish")
    if not (principal.roles & STEWARD_ROLES) and principal.department_code != owner:
        raise Forbidden(f"only staff of department {owner!r} or a data steward can publish its datasets")


def _dataset(session: Session, slug: str) -> Dataset:
    owner, _, name = slug.partition("/")
    return catalog.get_or_raise(session, owner=owner, name=name)


def check_publishable(session: Session, dataset: Dataset) -> None:
    """L1 only: the dataset grade and every field of its current schema."""
    if dataset.grade != PUBLIC_GRADE:
        raise Conflict(f"dataset {dataset.slug} is graded {dataset.grade}: only L1 (公开) datasets can be published "
                       "as open data; L2–L4 data is shared between departments through the exchange")
    above = [f["name"] for f in catalog.current_fields(session, dataset) if rank(f["grade"]) > rank(PUBLIC_GRADE)]
    if above:
        raise Conflict(f"dataset {dataset.slug} has fields graded above L1 ({', '.join(above)}): it cannot be published")


def _resources(slug: str, package_id: str, now: datetime) -> list[dict[str, Any]]:
    return [{"id": resource_uuid(slug, fmt), "package_id": package_id, "format": fmt, "position": i, "created_at": now}
            for i, fmt in enumerate(FORMATS)]


def publish(session: Session, *, dataset_slug: str, publisher: Principal, theme: str | None = None, notes: str = "",
            now: datetime | None = None) -> OpenPackage:
    """Publish an L1 dataset (or re-publish a withdrawn one) with its CSV, JSON and Parquet resources."""
    dataset = _dataset(session, dataset_slug)
    _require_publisher(publisher, dataset.owner_department_code)
    check_publishable(session, dataset)
    chosen = theme or DEPARTMENT_THEMES.get(dataset.owner_department_code, "government")
    if chosen not in THEMES:
        raise Invalid(f"unknown theme {chosen!r}; one of {', '.join(THEMES)}")
    now = now or utcnow()
    package = session.scalar(select(OpenPackage).where(OpenPackage.dataset_id == dataset.id))
    if package is not None and package.state == "active":
        raise Conflict(f"dataset {dataset.slug} is already published")
    if package is None:
        package = OpenPackage(id=package_uuid(dataset.slug), dataset_id=dataset.id, published_at=now)
        session.add(package)
    package.theme, package.notes, package.state = chosen, notes, "active"
    package.published_by, package.modified_at, package.withdrawn_at = publisher.name, now, None
    session.flush()
    existing = set(session.scalars(select(OpenResource.format).where(OpenResource.package_id == package.id)))
    missing = [r for r in _resources(dataset.slug, package.id, now) if r["format"] not in existing]
    if missing:
        session.execute(insert(cast(Table, OpenResource.__table__)), missing)
    audit.record(session, actor=publisher, action="opendata.package.publish", subject=catalog.resource_key(dataset),
                 details={"package_id": package.id, "theme": chosen, "rows": dataset.row_count})
    return package


def withdraw(session: Session, *, dataset_slug: str, actor: Principal, now: datetime | None = None) -> OpenPackage:
    """Take a package off the portal; its id is kept for a later re-publication."""
    dataset = _dataset(session, dataset_slug)
    _require_publisher(actor, dataset.owner_department_code)
    package = session.scalar(select(OpenPackage).where(OpenPackage.dataset_id == dataset.id))
    if package is None or package.state != "active":
        raise NotFound(f"dataset {dataset.slug} is not published")
    now = now or utcnow()
    package.state, package.withdrawn_at, package.modified_at = "withdrawn", now, now
    session.flush()
    audit.record(session, actor=actor, action="opendata.package.withdraw", subject=catalog.resource_key(dataset),
                 details={"package_id": package.id})
    return package


def publish_many(session: Session, datasets: Sequence[Dataset], *, actor: str, now: datetime,
                 themes: dict[str, str] | None = None) -> int:
    """Bulk publication for loaders (the demo): every dataset must be L1; one audit entry per package."""
    wrong = [d.slug for d in datasets if d.grade != PUBLIC_GRADE]
    if wrong:
        raise Conflict(f"{len(wrong)} datasets are not L1, e.g. {wrong[0]}: only L1 datasets can be published")
    packages, resources = [], []
    for dataset in datasets:
        package_id = package_uuid(dataset.slug)
        theme = (themes or {}).get(dataset.slug) or DEPARTMENT_THEMES.get(dataset.owner_department_code, "government")
        packages.append({"id": package_id, "dataset_id": dataset.id, "theme": theme, "notes": "", "state": "active",
                         "published_at": now, "published_by": actor, "modified_at": now, "withdrawn_at": None})
        resources.extend(_resources(dataset.slug, package_id, now))
    if packages:
        session.execute(insert(cast(Table, OpenPackage.__table__)), packages)
        session.execute(insert(cast(Table, OpenResource.__table__)), resources)
        audit.record_many(session, [
            audit.AuditEvent(actor=actor, action="opendata.package.publish", subject=catalog.resource_key(d),
                             details={"package_id": p["id"], "theme": p["theme"], "rows": d.row_count})
            for d, p in zip(datasets, packages, strict=True)])
    return len(packages)


def _package_view(package: OpenPackage, dataset: Dataset, resources: list[OpenResource], base_url: str) -> dict[str, Any]:
    return {"id": package.id, "name": dataset.slug, "title": dataset.title,
            "owner_department_code": dataset.owner_department_code,
            "grade": dataset.grade, "theme": package.theme, "state": package.state, "notes": package.notes,
            "row_count": dataset.row_count, "published_at": package.published_at, "published_by": package.published_by,
            "modified_at": package.modified_at, "withdrawn_at": package.withdrawn_at,
            "resources": [{"id": r.id, "format": r.format, "url": download_url(base_url, r.id)} for r in resources]}


def package_view(session: Session, package: OpenPackage, base_url: str) -> dict[str, Any]:
    dataset = session.get_one(Dataset, package.dataset_id)
    resources = list(session.scalars(select(OpenResource).where(OpenResource.package_id == package.id)
                                     .order_by(OpenResource.position)))
    return _package_view(package, dataset, resources, base_url)


def list_packages(session: Session, *, page: PageParams, base_url: str, state: str | None = None,
                  department: str | None = None, q: str | None = None) -> dict[str, Any]:
    """Staff view: every package, withdrawn ones too (a package whose dataset was regraded shows its grade)."""
    statement = select(OpenPackage, Dataset).join(Dataset, Dataset.id == OpenPackage.dataset_id)
    if state:
        statement = statement.where(OpenPackage.state == state)
    if department:
        statement = statement.where(Dataset.owner_department_code == department)
    if q:
        statement = statement.where(or_(Dataset.title.contains(q, autoescape=True), Dataset.slug.contains(q, autoescape=True)))
    total = int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    rows = session.execute(statement.order_by(Dataset.slug).limit(page.limit).offset(page.offset)).all()
    by_package: dict[str, list[OpenResource]] = {}
    for resource in session.scalars(select(OpenResource).where(OpenResource.package_id.in_([p.id for p, _ in rows]))
                                    .order_by(OpenResource.position)):
        by_package.setdefault(resource.package_id, []).append(resource)
    return {"items": [_package_view(p, d, by_package.get(p.id, []), base_url) for p, d in rows], "total": total,
            "limit": page.limit, "offset": page.offset}


def get_package_or_raise(session: Session, *, dataset_slug: str) -> OpenPackage:
    dataset = _dataset(session, dataset_slug)
    package = session.scalar(select(OpenPackage).where(OpenPackage.dataset_id == dataset.id))
    if package is None:
        raise NotFound(f"dataset {dataset.slug} has never been published")
    return package


# ---- the public side ------------------------------------------------------------------------------

def find_public(session: Session, key: str) -> tuple[OpenPackage, Dataset]:
    """A visible package by CKAN id or name (the slug); NotFound for anything else, withdrawn or L2+ alike."""
    row = session.execute(
        select(OpenPackage, Dataset).join(Dataset, Dataset.id == OpenPackage.dataset_id)
        .where(is_public(), or_(OpenPackage.id == key, Dataset.slug == key))
    ).first()
    if row is None:
        raise NotFound(f'Dataset "{key}" was not found')
    return row[0], row[1]


def find_public_resource(session: Session, resource_id: str) -> tuple[OpenResource, OpenPackage, Dataset]:
    row = session.execute(
        select(OpenResource, OpenPackage, Dataset).join(OpenPackage, OpenPackage.id == OpenResource.package_id)
        .join(Dataset, Dataset.id == OpenPackage.dataset_id).where(is_public(), OpenResource.id == resource_id)
    ).first()
    if row is None:
        raise NotFound(f'Resource "{resource_id}" was not found')
    return row[0], row[1], row[2]


def download_url(base_url: str, resource_id: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/opendata/resources/{resource_id}/download"


def download(session: Session, *, resource_id: str) -> tuple[str, str, Iterator[bytes]]:
    """(file name, media type, byte chunks) of a public resource, generated from the stored rows."""
    resource, _, dataset = find_public_resource(session, resource_id)
    fields = catalog.current_fields(session, dataset)
    chunks = export.export_chunks(session, dataset, fields, EXTENSIONS[resource.format])
    filename = f"{dataset.slug.replace('/', '_')}.{EXTENSIONS[resource.format]}"
    return filename, MEDIA_TYPES[resource.format], chunks
