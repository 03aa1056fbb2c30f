"""Applications read their catalogue item and process version from per-process caches (core.refcache); a change
to the catalogue or a new process version is in the very next application."""

from __future__ import annotations

from applications_builders import submit

ITEM = "CS-MZ-0008"  # 高龄津贴申领: ID card and 户口簿 from the registry, bank account details uploaded


def test_a_guide_edit_shows_in_the_next_form(client, auth):
    citizen = auth("citizen")
    before = client.get(f"/api/v1/applications/forms/{ITEM}", headers=citizen).json()
    assert before["materials_required"] == 3
    edit = {"materials": [{"name": "居民身份证", "source": "registry"}, {"name": "户口簿", "source": "registry"},
                          {"name": "银行账户信息"}, {"name": "居住证明"}]}
    assert client.patch(f"/api/v1/services/items/{ITEM}", json=edit, headers=auth("admin")).status_code == 200
    after = client.get(f"/api/v1/applications/forms/{ITEM}", headers=citizen).json()
    assert after["materials_required"] == 4 and "居住证明" in {m["name"] for m in after["materials"]}


def test_a_new_process_version_runs_the_next_application(client, auth, any_db):
    from sqlalchemy import select

    from xingcheng.workflow.models import WorkflowDefinition, WorkflowInstance

    citizen = auth("citizen")
    first = submit(client, citizen, ITEM)
    shipped = any_db.scalar(select(WorkflowDefinition).where(WorkflowDefinition.key == "generic_service_item")
                            .order_by(WorkflowDefinition.version.desc()).limit(1))
    assert shipped is not None
    changed = shipped.content.replace('name="受理"', 'name="受理（新版）"', 1)
    assert changed != shipped.content
    deployed = client.post("/api/v1/workflow/definitions", json={"content": changed}, headers=auth("admin"))
    assert deployed.status_code in (200, 201), deployed.text
    second = submit(client, citizen, ITEM)
    versions = [any_db.get(WorkflowInstance, any_db.scalar(select(WorkflowInstance.id).where(
        WorkflowInstance.business_key == a["number"]))) for a in (first, second)]
    assert [v.definition_id for v in versions if v] == [shipped.id, deployed.json()["id"]]
    assert second["tasks"][0]["name"] == "受理（新版）"
