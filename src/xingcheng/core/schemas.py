"""Shared schema pieces: the base model and the page envelope every list returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Schema(BaseModel):
    """Base of every API model: built from ORM objects, unknown input fields refused."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class PageParams(Schema):
    """Limit/offset paging, the convention of every list endpoint."""

    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class Page(Schema, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
