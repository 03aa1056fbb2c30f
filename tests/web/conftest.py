"""Browser-test fixtures: `xingcheng serve` on the small demo city in a subprocess, Debian's Chromium, a fresh
context per test and the console login.

One server per test session: `xingcheng demo load` into a temporary data directory, then
`xingcheng serve` on a free port. Chromium is Debian's (`/usr/bin/chromium`); Playwright's own
download does not work offline.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xc_testing import free_port, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SECRET = "browser-test-secret-key-that-is-long-enough-0123456789"
STARTUP_SECONDS = 180  # generous: CI machines are shared


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path

    def query(self, sql: str, *params: Any) -> Any:
        """The first value of the first row, read straight from the server's SQLite file."""
        connection = sqlite3.connect(self.data_dir / "xingcheng.db")
        try:
            return connection.execute(sql, params).fetchone()[0]
        finally:
            connection.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The small demo city served with the web UI mounted, as an operator would run it."""
    data_dir = tmp_path_factory.mktemp("xc-web-data")
    env = {**os.environ, "XC_DATA_DIR": str(data_dir), "XC_SECRET_KEY": SECRET}
    env.pop("XC_DATABASE_URL", None)
    cli = str(Path(sys.executable).with_name("xingcheng"))
    loaded = subprocess.run(
        [cli, "demo", "load", "--seed", "42", "--scale", "small"], env=env, capture_output=True, text=True, timeout=600,
    )
    assert loaded.returncode == 0, f"demo load failed:\n{loaded.stderr[-3000:]}"
    port = free_port()
    command = [cli, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running_server(command, port=port, env=env, log=data_dir / "serve.log", timeout=STARTUP_SECONDS) as url:
        yield Server(url=url, data_dir=data_dir)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = "Debian chromium not installed: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test, sized like an office monitor."""
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN", base_url=server.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def _log_in(page: Any, username: str, password: str, *, next_path: str = "") -> None:
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.locator(".xc-username input").fill(username)
    page.locator(".xc-password input").fill(password)
    page.locator(".xc-login-button").click()


LogIn = Callable[..., None]


@pytest.fixture
def log_in() -> LogIn:
    """``log_in(page, username, password, next_path=...)``: fill and send the console login form."""
    return _log_in
