"""API models for the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from xingcheng.core.schemas import Schema

Channel = Literal["in_app", "event", "sms", "email"]


class NotificationCreate(Schema):
    recipient_kind: Literal["account", "department", "role"]
    recipient_key: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=5000)
    link: str | None = Field(default=None, max_length=500)
    channels: list[Channel] = Field(default_factory=lambda: list[Channel](["in_app"]))


class NotificationRead(Schema):
    id: int
    recipient_kind: str
    recipient_key: str
    title: str
    body: str
    link: str | None
    source: str
    channels: list[str]
    created_at: datetime
    read_at: datetime | None
