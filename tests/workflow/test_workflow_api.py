"""The workflow API end to end over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from workflow_builders import problem, some_person

from xingcheng.core.audit.models import AuditEntry

PROCESSES = Path(__file__).parents[2] / "src/xingcheng/workflow/processes"


def start_generic(client, auth, any_db, department="dsj"):
    person = some_person(any_db)
    response = client.post("/api/v1/workflow/instances", headers=auth("admin"), json={
        "process_key": "generic_service_item", "business_key": "APP-0001",
        "variables": {"department": department, "item_code": "CS-GJJ-0003", "id_number": person.id_number},
    })
    assert response.status_code == 201, response.text
    return response.json()


def test_shipped_definitions_are_deployed(client, auth):
    page = client.get("/api/v1/workflow/definitions?limit=100", headers=auth("operator")).json()
    keys = {(d["kind"], d["key"]) for d in page["items"]}
    assert {("bpmn", "generic_service_item"), ("bpmn", "enterprise_start"), ("dmn", "cs_hrss_auto"),
            ("dmn", "cs_hpf_auto"), ("dmn", "cs_ca_auto")} <= keys
    assert client.get("/api/v1/workflow/definitions", headers=auth("citizen")).status_code == 403


def test_generic_process_end_to_end(client, auth, any_db):
    instance = start_generic(client, auth, any_db)
    assert instance["status"] == "running" and instance["current_tasks"] == ["accept"]
    assert "*" in instance["variables"]["id_number"]  # personal identifiers masked on the way out
    steward = auth("steward")  # 市数据资源局 (dsj), the department the instance was routed to
    for step, variables in [("accept", {}), ("review", {}), ("decide", {"approved": True})]:
        inbox = client.get("/api/v1/workflow/tasks", headers=steward).json()
        task = next(t for t in inbox["items"] if t["instance_id"] == instance["id"])
        assert task["task_spec"] == step and task["department_code"] == "dsj"
        assert 0 < task["seconds_left"] <= 24 * 3600
        claimed = client.post(f"/api/v1/workflow/tasks/{task['id']}/claim", headers=steward, json={"version": task["version"]})
        assert claimed.status_code == 200 and claimed.json()["status"] == "claimed", claimed.text
        done = client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=steward,
                           json={"variables": variables, "version": claimed.json()["version"]})
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
    detail = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=auth("operator")).json()
    assert detail["status"] == "completed" and detail["variables"]["outcome"] == "approved"
    assert detail["variables"]["applicant"]["found"] is True
    actions = [e["action"] for e in detail["timeline"]]
    assert actions == ["start", *["task.claim", "task.complete"] * 3, "complete"]
    audited = set(any_db.scalars(select(AuditEntry.action).where(
        AuditEntry.subject == f"workflow_instance:{instance['id']}")))
    assert {"workflow.start", "workflow.task.complete", "workflow.complete", "workflow.identity_check"} <= audited


def test_rejection_path(client, auth, any_db):
    instance = start_generic(client, auth, any_db)
    steward = auth("steward")
    for variables in ({}, {}, {"approved": False}):
        task = next(t for t in client.get("/api/v1/workflow/tasks", headers=steward).json()["items"]
                    if t["instance_id"] == instance["id"])
        assert client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=steward,
                           json={"variables": variables}).status_code == 200
    detail = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=steward).json()
    assert detail["status"] == "completed" and detail["variables"]["outcome"] == "rejected"


def test_clerk_of_another_department_gets_403(client, auth, any_db):
    instance = start_generic(client, auth, any_db, department="dsj")
    task = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=auth("admin")).json()["tasks"][0]
    clerk = auth("clerk")  # 市行政审批服务局 (xzsp)
    problem(client.post(f"/api/v1/workflow/tasks/{task['id']}/claim", headers=clerk), 403)
    problem(client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=clerk, json={}), 403)
    assert all(t["instance_id"] != instance["id"] for t in client.get("/api/v1/workflow/tasks", headers=clerk).json()["items"])
    problem(client.post("/api/v1/workflow/instances", headers=auth("operator"), json={"process_key": "x"}), 403)


def test_two_clerks_completing_one_task_one_wins(client, auth, any_db):
    instance = start_generic(client, auth, any_db, department="dsj")
    task = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=auth("admin")).json()["tasks"][0]
    # Both clerks of 市数据资源局 saw the same version in their inbox and press "complete" together.
    first = client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=auth("steward"),
                        json={"version": task["version"]})
    assert first.status_code == 200, first.text
    second = client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=auth("admin"),
                         json={"version": task["version"]})
    problem(second, 409)
    detail = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=auth("admin")).json()
    assert detail["current_tasks"] == ["review"]  # advanced exactly once


def test_claimed_task_cannot_be_completed_by_another_clerk(client, auth, any_db):
    instance = start_generic(client, auth, any_db, department="dsj")
    task = client.get(f"/api/v1/workflow/instances/{instance['id']}", headers=auth("admin")).json()["tasks"][0]
    assert client.post(f"/api/v1/workflow/tasks/{task['id']}/claim", headers=auth("steward")).status_code == 200
    problem(client.post(f"/api/v1/workflow/tasks/{task['id']}/claim", headers=auth("admin")), 409)
    problem(client.post(f"/api/v1/workflow/tasks/{task['id']}/complete", headers=auth("admin"), json={}), 409)


def test_invalid_definitions_are_problem_json(client, auth):
    admin = auth("admin")
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": "<bpmn:definitions"}), 422)
    assert "XML" in body["detail"]
    dmn = (PROCESSES / "cs_ca_auto.dmn").read_text()
    broken = dmn.replace("&lt; 60", ">= = 60").replace('"expired"', '"expired" +')
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": broken}), 422)
    cells = [e["message"] for e in body["errors"]]
    assert len(cells) == 2 and any("'>= = 60'" in c and "rule 1" in c for c in cells)
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin,
                               json={"content": dmn.replace('hitPolicy="FIRST"', 'hitPolicy="ANY"')}), 422)
    assert "hit policy ANY" in body["detail"]
    bpmn = (PROCESSES / "generic_service_item.bpmn").read_text()
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin,
                               json={"content": bpmn.replace('targetRef="review"', 'targetRef="nowhere"')}), 422)
    assert "nowhere" in body["detail"]
    problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": "<a/>"}), 422)
    problem(client.post("/api/v1/workflow/definitions", headers=auth("steward"), json={"content": dmn}), 403)


def test_deploy_versions_and_upload(client, auth):
    admin = auth("admin")
    dmn = (PROCESSES / "cs_ca_auto.dmn").read_text()
    same = client.post("/api/v1/workflow/definitions", headers=admin, json={"content": dmn})
    assert same.status_code == 201 and same.json()["version"] == 1  # unchanged content: no new version
    changed = dmn.replace("&lt; 60", "&lt; 65")
    uploaded = client.post("/api/v1/workflow/definitions/upload", headers=admin,
                           files={"file": ("cs_ca_auto.dmn", changed.encode(), "application/xml")})
    assert uploaded.status_code == 201 and uploaded.json()["version"] == 2, uploaded.text
    result = client.post("/api/v1/workflow/decisions/cs_ca_auto/evaluate", headers=admin, json={
        "inputs": {"age": 62, "division_code": "430102", "residence_permit_status": "not_needed"}}).json()
    assert result["version"] == 2 and result["result"]["decision"] == "manual"


def test_decision_api_explains_the_rule(client, auth):
    url = "/api/v1/workflow/decisions/cs_ca_auto/evaluate"
    base = {"division_code": "430104", "residence_permit_status": "not_needed"}
    ok = client.post(url, headers=auth("clerk"), json={"inputs": {**base, "age": 60}}).json()
    assert ok["result"] == {"decision": "approve", "reason": "符合条件，秒批通过"} and ok["matched_rule"]["id"] == "approve"
    no = client.post(url, headers=auth("clerk"), json={"inputs": {**base, "age": 59}}).json()
    assert no["result"]["decision"] == "manual" and no["matched_rule"]["id"] == "age_under_60"
    assert no["result"]["reason"] == "未满60周岁"
    body = problem(client.post(url, headers=auth("clerk"), json={"inputs": {"age": 70}}), 422)
    assert {e["field"] for e in body["errors"]} == {"inputs.division_code", "inputs.residence_permit_status"}
    problem(client.post(url, headers=auth("clerk"), json={"inputs": {**base, "age": "old"}}), 422)
    problem(client.post("/api/v1/workflow/decisions/nope/evaluate", headers=auth("clerk"), json={"inputs": {}}), 404)
    problem(client.post("/api/v1/workflow/instances", headers=auth("admin"), json={"process_key": "nope"}), 404)


def test_definitions_cannot_reach_interpreter_internals(client, auth):
    admin = auth("admin")
    bpmn = (PROCESSES / "generic_service_item.bpmn").read_text()
    hostile = bpmn.replace('fee_cents = calculate_fee(item_code)', 'import os\nfee_cents = os.getpid()')
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": hostile}), 422)
    assert "imports are not allowed" in body["detail"] and "accept_check" in body["detail"]
    sneaky = bpmn.replace('approved == True', '().__class__ == True')
    problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": sneaky}), 422)
    dmn = (PROCESSES / "cs_ca_auto.dmn").read_text().replace("&lt; 60", "&lt; __import__('os').getpid()")
    body = problem(client.post("/api/v1/workflow/definitions", headers=admin, json={"content": dmn}), 422)
    assert "__import__" in body["detail"]
