"""The web console and city cockpit: NiceGUI pages mounted on the platform's FastAPI app."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from xingcheng.core.registry import Module
from xingcheng.core.settings import Settings

TITLE = "星城 · 城市数字平台"
# A five-pointed star over a skyline, inline so the tab icon needs no file and no network.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="12" fill="#1a56a8"/>'
    '<path d="M32 8l5.6 11.4 12.6 1.8-9.1 8.9 2.1 12.5L32 36.7l-11.2 5.9 2.1-12.5-9.1-8.9 12.6-1.8z" fill="#ffd54f"/>'
    '<path d="M8 56V46h6v-6h6v10h6V42h6v8h6v-6h6v4h6v-8h6v16z" fill="#cfe8ff"/></svg>'
)

_mounted_on: FastAPI | None = None


def register_pages(modules: Sequence[Module], settings: Settings) -> None:
    """Every page, fixed paths first: NiceGUI matches routes in the order they are declared."""
    from xingcheng.web import catalog, cockpit, console, datahub, geo, portal, services

    geo.register_route()
    portal.register(settings=settings)
    console.register(modules)
    datahub.register(modules)
    catalog.register(modules)  # fixed /console/datahub/catalog before its /{owner}/{name} detail
    __import__("xingcheng.web.registries", fromlist=["register"]).register(modules)  # 基础库, 多源校核, 数据质量, 证照核验
    __import__("xingcheng.web.exchange", fromlist=["register"]).register(modules)  # /console/datahub/exchange
    services.register(modules)  # public 一网通办 catalogue pages
    __import__("xingcheng.web.policy", fromlist=["register"]).register(modules)  # 惠企政策 console + /portal/policy
    __import__("xingcheng.web.qa", fromlist=["register"]).register(modules)  # 智能问答: /portal/qa + console
    from xingcheng.web.applications import register as register_applications
    register_applications(modules)  # apply online, my applications, department inbox, KPI dashboard
    __import__("xingcheng.web.opendata", fromlist=["register"]).register()  # public /open portal pages
    cockpit.register(modules)
    __import__("xingcheng.web.traffic", fromlist=["register"]).register(modules)  # /console/traffic
    __import__("xingcheng.web.requests", fromlist=["register"]).register(modules)  # 民生诉求 portal + console
    __import__("xingcheng.web.iot", fromlist=["register"]).register(modules)  # 物联感知: devices, streams, alerts, quality
    # Later packages add their own pages; still before any parameterised console route.
    for module in modules:
        if module.pages is not None:
            module.pages()
    console.register_sections(modules)


def mount_ui(app: FastAPI, *, modules: Sequence[Module], settings: Settings) -> None:
    """Mount the console on ``app`` at ``/``; call after every API route is registered.

    NiceGUI keeps pages and its own app in process-wide state, so one process serves one UI:
    a second call for the same app does nothing, for another app it refuses instead of
    mounting a half-configured copy.
    """
    global _mounted_on
    if _mounted_on is not None:
        if _mounted_on is app:
            return
        raise RuntimeError("the web UI is already mounted on another app in this process; use create_app(with_ui=False)")
    # Server-side session files belong in the data directory, not in whatever the working directory is.
    storage_dir = Path(os.environ.get("NICEGUI_STORAGE_PATH") or settings.ensure_data_dir() / "ui-sessions")
    from nicegui import storage, ui

    storage.Storage.path = storage_dir.resolve()
    register_pages(modules, settings)
    ui.run_with(
        app, mount_path="/", storage_secret=settings.signing_key(), title=TITLE, language="zh-CN",
        favicon=FAVICON, show_welcome_message=False,
    )
    _mounted_on = app
