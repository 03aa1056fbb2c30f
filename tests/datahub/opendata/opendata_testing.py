"""Helpers shared by the open-data tests (a unique module name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.opendata.models import OpenPackage, OpenResource

ACTION = "/api/3/action"
TOILETS = "cgj/public-toilets"  # a demo topic, city-wide, with rows


def ok(response: Any) -> Any:
    """The ``result`` of a successful CKAN call, after checking the envelope."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"help", "success", "result"}, body.keys()
    assert body["success"] is True and "help_show?name=" in body["help"]
    return body["result"]


def ckan_error(response: Any, status: int, kind: str) -> dict[str, Any]:
    """The ``error`` of a failed CKAN call, after checking the envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and "help" in body, body
    assert body["error"]["__type"] == kind, body
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def published(session: Session, slug: str = TOILETS) -> tuple[OpenPackage, Dataset]:
    row = session.execute(select(OpenPackage, Dataset).join(Dataset, Dataset.id == OpenPackage.dataset_id)
                          .where(Dataset.slug == slug)).one()
    return row[0], row[1]


def resource_id(session: Session, slug: str = TOILETS, fmt: str = "CSV") -> str:
    package, _ = published(session, slug)
    return str(session.scalar(select(OpenResource.id).where(OpenResource.package_id == package.id,
                                                            OpenResource.format == fmt)))


def unpublished_l1(session: Session) -> Dataset:
    """An L1 dataset the demo left unpublished."""
    return session.scalars(select(Dataset).where(Dataset.grade == "L1", Dataset.id.not_in(select(OpenPackage.dataset_id)))
                           .order_by(Dataset.slug)).first()  # type: ignore[return-value]
