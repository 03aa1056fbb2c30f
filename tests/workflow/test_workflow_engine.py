"""Services below HTTP: parallel fan-out and join, restart safety, deadlines, a real two-session race."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from workflow_builders import ENTERPRISE_DEPARTMENTS, clerk_of, enterprise_variables, some_person

from xingcheng.core.auth import SYSTEM
from xingcheng.core.db import Database, create_db_engine, utcnow
from xingcheng.core.errors import Conflict
from xingcheng.core.notifications.models import Notification
from xingcheng.workflow import engine, inbox, service
from xingcheng.workflow.models import WorkflowTask


def open_tasks(session, instance_id):
    return list(session.scalars(select(WorkflowTask).where(
        WorkflowTask.instance_id == instance_id, WorkflowTask.status.in_(("open", "claimed")))))


def test_enterprise_start_fans_out_to_five_departments_and_joins(any_db):
    person = some_person(any_db)
    instance = service.start_instance(any_db, process_key="enterprise_start", actor=SYSTEM, business_key="QYKB-1",
                                      variables=enterprise_variables(person))
    tasks = open_tasks(any_db, instance.id)
    assert sorted(t.department_code for t in tasks) == sorted(ENTERPRISE_DEPARTMENTS)
    assert len({t.task_spec for t in tasks}) == 5
    for number, task in enumerate(sorted(tasks, key=lambda t: t.department_code), start=1):
        assert instance.status == "running"
        inbox.complete_task(any_db, task_id=task.id, principal=clerk_of(task.department_code), variables={})
        assert len(open_tasks(any_db, instance.id)) == 5 - number
    assert instance.status == "completed" and instance.variables["outcome"] == "approved"
    assert len(instance.variables["licences"]) == 5  # the join delivers every licence at once
    delivered = any_db.scalars(select(Notification).where(Notification.recipient_key == "1",
                                                          Notification.title == "企业开办已办结")).all()
    assert len(delivered) == 1
    # Each department was told about its new task.
    told = set(any_db.scalars(select(Notification.recipient_key).where(Notification.title.startswith("新待办"))))
    assert set(ENTERPRISE_DEPARTMENTS) <= told


def test_wrong_department_cannot_touch_a_parallel_branch(db):
    instance = service.start_instance(db, process_key="enterprise_start", actor=SYSTEM)
    tax = next(t for t in open_tasks(db, instance.id) if t.department_code == "swj_tax")
    from xingcheng.core.errors import Forbidden

    with pytest.raises(Forbidden):
        inbox.complete_task(db, task_id=tax.id, principal=clerk_of("swj"), variables={})  # 水利局, not 税务局


def test_instance_survives_a_restart(client, auth, any_db):
    """Start over HTTP, throw away the parsed specs and the app, then finish on a fresh app."""
    from xingcheng.app import create_app
    from xingcheng.core.deps import get_session

    started = client.post("/api/v1/workflow/instances", headers=auth("admin"), json={
        "process_key": "enterprise_start", "variables": enterprise_variables(some_person(any_db))}).json()
    engine.clear_cache()
    any_db.expunge_all()
    fresh = create_app(with_ui=False)

    def same_session():
        yield any_db
        any_db.commit()

    fresh.dependency_overrides[get_session] = same_session
    from fastapi.testclient import TestClient

    restarted = TestClient(fresh, raise_server_exceptions=False)  # no lifespan: the old app's workers stay
    for task in restarted.get(f"/api/v1/workflow/instances/{started['id']}", headers=auth("admin")).json()["tasks"]:
        done = inbox.complete_task(any_db, task_id=task["id"], principal=clerk_of(task["department_code"]), variables={})
        assert done.status == "completed"
    final = restarted.get(f"/api/v1/workflow/instances/{started['id']}", headers=auth("admin")).json()
    assert final["status"] == "completed" and final["variables"]["outcome"] == "approved"


def test_serialised_state_restores_into_a_new_engine(db):
    instance = service.start_instance(db, process_key="generic_service_item", actor=SYSTEM,
                                      variables={"department": "xzsp"})
    state = instance.state
    engine.clear_cache()
    workflow = engine.restore(state, engine=engine.script_engine({}))
    assert [t.task_spec.name for t in engine.ready_user_tasks(workflow)] == ["accept"]


def test_overdue_tasks_escalate_once(db):
    instance = service.start_instance(db, process_key="generic_service_item", actor=SYSTEM,
                                      variables={"department": "xzsp"})
    task = open_tasks(db, instance.id)[0]
    assert task.due_at is not None
    assert inbox.escalate_overdue(db, now=task.due_at - timedelta(minutes=1)) == 0
    assert inbox.escalate_overdue(db, now=task.due_at + timedelta(minutes=1)) >= 1
    assert task.escalated_at is not None
    assert inbox.escalate_overdue(db, now=task.due_at + timedelta(hours=5)) == 0
    warned = db.scalars(select(Notification).where(Notification.recipient_kind == "department",
                                                   Notification.recipient_key == "xzsp",
                                                   Notification.title.startswith("待办超期"))).all()
    assert warned
    assert inbox.seconds_left(task, task.due_at + timedelta(seconds=10)) == -10
    assert inbox.seconds_left(task, utcnow()) is not None


def test_two_sessions_race_for_one_task(tmp_path: Path):
    """Two clerks' transactions load the same task; the second to write gets 409, the instance advances once."""
    from xingcheng.core.migrate import upgrade

    database = Database(create_db_engine(f"sqlite:///{tmp_path / 'race.db'}"))
    upgrade(database.engine)
    with database.session_scope() as session:
        service.deploy_shipped(session)
        instance_id = service.start_instance(session, process_key="generic_service_item", actor=SYSTEM,
                                             variables={"department": "dsj"}).id
    with database.session_scope() as session:
        task_id = open_tasks(session, instance_id)[0].id
    # Deferred (read) sessions, so both load the task before either writes: the version check decides.
    first, second = database.read_sessionmaker(), database.read_sessionmaker()
    try:
        seen_first = inbox.get_task_or_raise(first, task_id=task_id).version
        seen_second = inbox.get_task_or_raise(second, task_id=task_id).version
        assert seen_first == seen_second
        inbox.complete_task(first, task_id=task_id, principal=clerk_of("dsj", 1), variables={}, version=seen_first)
        first.commit()
        with pytest.raises(Conflict):
            inbox.complete_task(second, task_id=task_id, principal=clerk_of("dsj", 2), variables={}, version=seen_second)
        second.rollback()
    finally:
        first.close()
        second.close()
    with database.session_scope() as session:
        assert service.get_instance_or_raise(session, instance_id=instance_id).current_tasks == ["review"]
    database.engine.dispose()
