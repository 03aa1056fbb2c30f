"""Helpers for tests that need real external services (MQTT broker, PostgreSQL, ...)."""

from __future__ import annotations

import os
import socket

import pytest


def require_tcp(name: str, host: str, port: int) -> None:
    """Skip the test when ``host:port`` does not accept TCP connections; fail instead on CI.

    On CI (``CI=true``) a missing service is a broken pipeline, not a reason to skip silently.
    """
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        reason = f"{name} not reachable at {host}:{port}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} ({exc})")
        pytest.skip(reason)
