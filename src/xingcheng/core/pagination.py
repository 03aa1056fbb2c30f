"""Run a select with limit/offset and count the total in the same session."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from xingcheng.core.schemas import PageParams

T = TypeVar("T")


def paginate(session: Session, statement: Select[T], params: PageParams) -> tuple[list[T], int]:
    """The requested page of ``statement``'s rows and the total number of matching rows."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = session.scalars(statement.limit(params.limit).offset(params.offset)).unique().all()
    return list(rows), int(total)


def page_dict(items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}
