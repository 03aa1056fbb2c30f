"""Applications over HTTP on SQLite and PostgreSQL: submit, clerks decide, 补正, withdraw, rate, idempotency."""

from __future__ import annotations

from applications_builders import JPEG, clerk_headers, decide, open_task, provide_all, submit, upload

from xingcheng.core.ids import validate_credit_code

ITEM = "CS-MZ-0008"  # 高龄津贴申领: ID card and 户口簿 from the registry, bank account details uploaded


def test_form_says_which_materials_the_city_already_holds(client, auth):
    form = client.get(f"/api/v1/applications/forms/{ITEM}", headers=auth("citizen")).json()
    by_name = {m["name"]: m for m in form["materials"]}
    assert by_name["居民身份证"]["provision"] == "registry" and by_name["户口簿"]["provision"] == "registry"
    assert by_name["银行账户信息"]["provision"] is None
    assert form["materials_required"] == 3 and form["materials_to_provide"] == 1
    assert {f["name"] for f in form["fields"]} >= {"contact_phone"}
    assert client.get(f"/api/v1/applications/forms/{ITEM}", headers=auth("clerk")).status_code == 403


def test_generic_application_end_to_end_delivers_an_e_licence(client, auth, any_db):
    citizen = auth("citizen")
    application = submit(client, citizen, ITEM)
    assert application["status"] == "submitted" and application["materials_provided"] == 1
    assert {m["provision"] for m in application["materials"]} == {"registry", "upload"}
    clerk = clerk_headers(client, any_db, "mz")
    for step in ("受理", "审查", "决定"):
        entry = open_task(client, clerk, application["number"])
        assert entry["task_name"] == step and entry["seconds_left"] > 0
        done = decide(client, clerk, entry["task_id"], version=entry["task_version"])
        assert done.status_code == 200, done.text
    final = client.get(f"/api/v1/applications/{application['number']}", headers=citizen).json()
    assert final["status"] == "approved" and len(final["result_licences"]) == 1
    verified = client.get(f"/api/v1/registries/licences/{final['result_licences'][0]}/verify")
    if verified.status_code == 200:  # the registry's public verification endpoint, when mounted
        assert verified.json()["valid"] is True
    actions = [e["action"] for e in final["timeline"]]
    assert actions[0] == "submit" and actions[-1] == "approved" and actions.count("step") == 3
    notes = client.get("/api/v1/notifications", headers=citizen).json()["items"]
    assert any(n["title"] == "办件已办结" for n in notes)
    mine = client.get("/api/v1/applications", headers=citizen).json()
    assert application["number"] in {a["number"] for a in mine["items"]}


def test_bad_input_lists_every_problem(client, auth):
    response = client.post("/api/v1/applications", headers=auth("citizen"), json={
        "item_code": ITEM, "form": {"contact_phone": "12345", "colour": "red"},
        "materials": [{"name": "结婚证", "upload_id": 999999}]})
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    problems = {(e["field"], e["type"]) for e in response.json()["errors"]}
    assert ("form.contact_phone", "invalid") in problems
    assert ("form.colour", "unknown_field") in problems
    assert ("materials.0", "unknown_material") in problems
    assert ("materials", "missing_material") in problems
    assert client.post("/api/v1/applications", headers=auth("citizen"),
                       json={"item_code": "CS-NOPE-0001"}).status_code == 404


def test_idempotency_key_returns_the_same_application(client, auth):
    citizen = auth("citizen")
    body = {"item_code": ITEM, "form": {"contact_phone": "13874811111"}, "materials": provide_all(client, citizen, ITEM)}
    headers = {**citizen, "Idempotency-Key": "portal-7f3a9c"}
    first = client.post("/api/v1/applications", headers=headers, json=body)
    again = client.post("/api/v1/applications", headers=headers, json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["number"] == first.json()["number"]
    changed = client.post("/api/v1/applications", headers=headers, json={**body, "form": {"contact_phone": "13974811111"}})
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"


def test_withdrawn_application_cannot_be_acted_on(client, auth, any_db):
    citizen = auth("citizen")
    application = submit(client, citizen, ITEM)
    clerk = clerk_headers(client, any_db, "mz")
    task = open_task(client, clerk, application["number"])
    withdrawn = client.post(f"/api/v1/applications/{application['number']}/withdraw", headers=citizen,
                            json={"reason": "信息填错，重新申请"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert decide(client, clerk, task["task_id"]).status_code == 409
    assert client.post(f"/api/v1/applications/{application['number']}/withdraw", headers=citizen).status_code == 409
    assert all(e["application"]["number"] != application["number"] for e in
               client.get("/api/v1/applications/inbox?limit=1000", headers=clerk).json()["items"])


def test_clerk_of_another_department_gets_403(client, auth, any_db):
    application = submit(client, auth("citizen"), ITEM)
    task = open_task(client, clerk_headers(client, any_db, "mz"), application["number"])
    response = decide(client, clerk_headers(client, any_db, "gjj"), task["task_id"])
    assert response.status_code == 403 and response.headers["content-type"].startswith("application/problem+json")
    other = client.get(f"/api/v1/applications/{application['number']}", headers=clerk_headers(client, any_db, "gjj"))
    assert other.status_code == 404


def test_two_clerks_deciding_at_once_one_wins(client, auth, any_db):
    application = submit(client, auth("citizen"), ITEM)
    clerk = clerk_headers(client, any_db, "mz")
    task = open_task(client, clerk, application["number"])
    first = decide(client, clerk, task["task_id"], version=task["task_version"])
    second = decide(client, clerk, task["task_id"], action="reject", reason="重复", version=task["task_version"])
    assert first.status_code == 200 and second.status_code == 409


def test_correction_round_trip(client, auth, any_db):
    citizen = auth("citizen")
    application = submit(client, citizen, ITEM)
    number = application["number"]
    clerk = clerk_headers(client, any_db, "mz")
    task = open_task(client, clerk, number)
    assert decide(client, clerk, task["task_id"], action="correction").status_code == 422  # needs a reason
    asked = decide(client, clerk, task["task_id"], action="correction", reason="银行账户信息不清晰，请重新上传")
    assert asked.status_code == 200 and asked.json()["status"] == "correction_requested"
    assert decide(client, clerk, task["task_id"]).status_code == 409  # on hold for the applicant
    waiting = client.get("/api/v1/applications/inbox?status=waiting", headers=clerk).json()["items"]
    assert any(e["application"]["number"] == number for e in waiting)
    fixed = client.post(f"/api/v1/applications/{number}/correction", headers=citizen, json={
        "materials": [{"name": "银行账户信息", "upload_id": upload(client, citizen, "bank.jpg", JPEG, "image/jpeg")}]})
    assert fixed.status_code == 200 and fixed.json()["status"] == "in_review", fixed.text
    assert client.post(f"/api/v1/applications/{number}/correction", headers=citizen, json={}).status_code == 409
    again = open_task(client, clerk, number)
    assert again["task_id"] == task["task_id"] and again["task_status"] == "claimed"
    assert [e["action"] for e in fixed.json()["timeline"]][-2:] == ["correction", "resubmit"]


def test_rejection_then_rating_once(client, auth, any_db):
    citizen = auth("citizen")
    application = submit(client, citizen, ITEM)
    number = application["number"]
    assert client.post(f"/api/v1/applications/{number}/rating", headers=citizen, json={"score": 5}).status_code == 409
    clerk = clerk_headers(client, any_db, "mz")
    task = open_task(client, clerk, number)
    rejected = decide(client, clerk, task["task_id"], action="reject", reason="申请人未满80周岁")
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "申请人未满80周岁"
    assert client.post(f"/api/v1/applications/{number}/rating", headers=citizen,
                       json={"score": 6}).status_code == 422
    rated = client.post(f"/api/v1/applications/{number}/rating", headers=citizen, json={"score": 2, "comment": "理由清楚"})
    assert rated.status_code == 201
    assert client.post(f"/api/v1/applications/{number}/rating", headers=citizen, json={"score": 5}).status_code == 409
    kpis = client.get("/api/v1/applications/kpis").json()
    assert kpis["ratings"] >= 1 and 0 <= kpis["satisfaction"] <= 1


def test_enterprise_start_fans_out_and_delivers_five_licences(client, auth, any_db):
    from enterprise_form import ENTERPRISE_FORM

    citizen = auth("citizen")
    application = submit(client, citizen, "CS-SCJ-0001", form=ENTERPRISE_FORM)
    assert application["process_key"] == "enterprise-start"
    assert application["materials_provided"] <= 5 < application["materials_required"]
    departments = sorted(t["department_code"] for t in application["tasks"])
    assert departments == ["gaj", "gjj", "rsj", "scj", "swj_tax"]  # all five at once (parallel gateway)
    for department in departments:
        clerk = clerk_headers(client, any_db, department)
        entry = open_task(client, clerk, application["number"])
        assert decide(client, clerk, entry["task_id"]).status_code == 200
    final = client.get(f"/api/v1/applications/{application['number']}", headers=citizen).json()
    assert final["status"] == "approved" and len(final["result_licences"]) == 5
    licence = client.get(f"/api/v1/registries/licences/{final['result_licences'][0]}/verify")
    if licence.status_code == 200:
        assert licence.json()["valid"] is True
    from sqlalchemy import select

    from xingcheng.datahub.registries.models import LegalEntity, Licence

    holder = any_db.scalar(select(Licence.holder_id).where(Licence.number == final["result_licences"][0]))
    assert validate_credit_code(holder) == holder
    entity = any_db.scalar(select(LegalEntity).where(LegalEntity.credit_code == holder))
    assert entity is not None and entity.name == ENTERPRISE_FORM["enterprise_name"] and entity.status == "active"
