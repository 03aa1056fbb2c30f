"""Photos citizens attach to requests: stored under ``<data_dir>/requests/media``, served by name."""

from __future__ import annotations

import re
from pathlib import Path

from xingcheng.core.settings import Settings

MEDIA_URL_PREFIX = "/api/v1/requests/media"
MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png)$")


def media_dir(settings: Settings) -> Path:
    path = settings.ensure_data_dir() / "requests" / "media"
    path.mkdir(parents=True, exist_ok=True)
    return path


def media_path(settings: Settings, name: str) -> Path | None:
    """The stored file for ``name``, or None for a name that is not one of ours or no longer there."""
    if not MEDIA_NAME.match(name):
        return None
    path = media_dir(settings) / name
    return path if path.is_file() else None
