"""Masking of personal data by field kind: 430102********1234, 张*, 138****5678."""

from __future__ import annotations

from collections.abc import Callable


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(len(value) - 1, 1) if value else value


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[7:] if len(value) == 11 else "*" * len(value)


def mask_address(value: str) -> str:
    # Keep the district-level part (first 6 characters, e.g. 长沙市岳麓区) and hide the rest.
    return value[:6] + "****" if len(value) > 6 else "****"


MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
}


def mask(kind: str, value: str | None) -> str | None:
    """The masked form of ``value`` for a field of ``kind``; unknown kinds pass through."""
    if value is None:
        return None
    masker = MASKERS.get(kind)
    return masker(value) if masker else value
