"""Helpers shared by test modules (a unique name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from _services import require_tcp
from xingcheng.core import refcache
from xingcheng.core.db import create_db_engine

DEMO_PASSWORDS = {
    "admin": "Admin@2026", "steward": "Steward@2026", "clerk": "Clerk@2026",
    "operator": "Operator@2026", "citizen": "Citizen@2026", "enterprise": "Enterprise@2026",
}


def login(test_client, username: str, password: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Bearer headers for a demo user."""
    response = test_client.post(
        "/api/v1/auth/token", data={"username": username, "password": password or DEMO_PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# ---- databases of a test's own ---------------------------------------------------------------

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_BASE_URL = os.environ.get("XC_TEST_PG_URL", f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/test")


def schema_connect_args(schema: str) -> dict[str, str]:
    """psycopg connect arguments that put a session in ``schema``."""
    return {"options": f"-csearch_path={schema}"}


@contextmanager
def postgres_schema_name(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema's name, dropped afterwards (fails under CI=true when unreachable)."""
    require_tcp("PostgreSQL", PG_HOST, PG_PORT)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(PG_BASE_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def postgres_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a fresh PostgreSQL schema, dropped afterwards."""
    with postgres_schema_name(prefix) as schema:
        engine = create_db_engine(PG_BASE_URL, connect_args=schema_connect_args(schema))
        try:
            yield engine
        finally:
            engine.dispose()


def rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back at the end.

    Services flush and the edge commits; a commit here only releases a savepoint.
    """
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        # What the test's "commits" wrote is gone now, behind the back of the reference caches.
        refcache.clear_all()


def session_dependency(session: Session) -> Callable[[], Iterator[Session]]:
    """A stand-in for ``core.deps.get_session`` that runs requests in the test's own session."""

    def override() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    return override


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_server_command(port: int) -> list[str]:
    """The platform's API without the web UI under uvicorn, in a fresh interpreter."""
    code = ("import sys, uvicorn; from xingcheng.app import create_app; "
            "uvicorn.run(create_app(with_ui=False), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning')")
    return [sys.executable, "-c", code, str(port)]


@contextmanager
def running_server(command: list[str], *, port: int, env: Mapping[str, str], log: Path,
                   timeout: float = 120) -> Iterator[str]:
    """Start ``command`` (listening on 127.0.0.1:``port``), wait until ``/health`` answers 200, yield the base
    URL, and stop the process afterwards. Its output goes to ``log``, quoted when it exits or never answers."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health in {timeout:.0f} s:\n"
                                   f"{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
