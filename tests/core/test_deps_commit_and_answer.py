"""core.deps.commit_and_answer: a busy write route validates its answer, commits and serialises in its own worker
thread — the answer is only sent after the commit, and an answer that fails validation commits nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from xingcheng.core import deps
from xingcheng.core.db import Database, create_db_engine
from xingcheng.core.deps import DbSession, commit_and_answer

metadata = MetaData()
note = Table("note", metadata, Column("id", Integer, primary_key=True), Column("text", String(40)))


class NoteRead(BaseModel):
    id: int
    text: str


@pytest.fixture
def database(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'answer.db'}")
    metadata.create_all(engine)
    database = Database(engine)
    monkeypatch.setattr(deps, "get_database", lambda: database)
    yield database
    engine.dispose()


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    app = FastAPI()

    @app.post("/notes", response_model=NoteRead, status_code=201)
    def add_note(text: str, session: DbSession) -> Response:
        new_id = session.execute(insert(note).values(text=text)).inserted_primary_key[0]  # type: ignore[index]
        answer = {"id": new_id, "text": text} if text != "broken" else {"id": new_id}
        return commit_and_answer(session, NoteRead, answer, status_code=201, headers={"X-Note": str(new_id)})

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def stored(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        return list(conn.scalars(select(note.c.text).order_by(note.c.id)))


def test_the_answer_is_committed_validated_and_sent(client: TestClient, database: Database) -> None:
    response = client.post("/notes", params={"text": "受理"})
    assert response.status_code == 201 and response.json() == {"id": 1, "text": "受理"}
    assert response.headers["X-Note"] == "1" and response.headers["content-type"] == "application/json"
    assert stored(database) == ["受理"]
    assert database.writers is not None and database.writers.acquire(0.1)  # the writer turn was handed on
    database.writers.release()


def test_an_answer_that_fails_validation_commits_nothing(client: TestClient, database: Database) -> None:
    assert client.post("/notes", params={"text": "broken"}).status_code == 500
    assert stored(database) == []
    with database.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(note)) == 0
