"""Staff keep the FAQ; a change reaches the answers at once (the index is rebuilt), department
staff edit only their own department's items, every edit is audited."""

from __future__ import annotations

from sqlalchemy import select

from xingcheng.core.audit.models import AuditEntry

QUESTION = "烘焙工作室的裱花蛋糕外卖需要什么手续"  # words no catalogue item uses


def top_code(client, question: str) -> str:  # type: ignore[no-untyped-def]
    return client.post("/api/v1/qa/ask", json={"question": question}).json()["answers"][0]["item_code"]


def test_faq_edit_reindexes_and_is_audited(client, auth, any_db):
    staff = auth("admin")
    before = top_code(client, QUESTION)
    created = client.post("/api/v1/qa/faq", headers=staff, json={
        "item_code": "CS-SCJ-0013", "question": "烘焙工作室做裱花蛋糕外卖要办许可吗？",
        "answer": "从事食品销售和餐饮服务的，需要取得食品经营许可证。",
    })
    assert created.status_code == 201, created.text
    pair = created.json()
    assert pair["item_name"] == "食品经营许可" and pair["updated_by"] == "admin"
    assert before != "CS-SCJ-0013" and top_code(client, QUESTION) == "CS-SCJ-0013"
    answer = client.post("/api/v1/qa/ask", json={"question": QUESTION}).json()["answers"][0]
    assert answer["faq"][-1]["question"] == "烘焙工作室做裱花蛋糕外卖要办许可吗？"

    listed = client.get("/api/v1/qa/faq?item_code=CS-SCJ-0013").json()  # public read
    assert pair["id"] in {p["id"] for p in listed["items"]}

    moved = client.patch(f"/api/v1/qa/faq/{pair['id']}", headers=staff,
                         json={"question": "仅销售预包装食品要办许可吗？"})
    assert moved.status_code == 200 and moved.json()["question"] == "仅销售预包装食品要办许可吗？"
    assert top_code(client, QUESTION) == before  # the old wording left the index with the edit

    assert client.delete(f"/api/v1/qa/faq/{pair['id']}", headers=staff).status_code == 204
    assert client.patch(f"/api/v1/qa/faq/{pair['id']}", headers=staff, json={"answer": "x"}).status_code == 404
    actions = set(any_db.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"qa_faq:{pair['id']}")))
    assert actions == {"qa.faq.create", "qa.faq.update", "qa.faq.delete"}


def test_department_staff_edit_only_their_items(client, auth):
    clerk = auth("clerk")  # 市行政审批服务局
    foreign = client.post("/api/v1/qa/faq", headers=clerk, json={
        "item_code": "CS-GJJ-0004", "question": "租房提取多久到账？", "answer": "一般三个工作日内到账。"})
    assert foreign.status_code == 403
    own = client.post("/api/v1/qa/faq", headers=clerk, json={
        "item_code": "CS-XZSP-0001", "question": "施工许可证可以网上申请吗？", "answer": "可以，在工程建设项目审批管理系统申报。"})
    assert own.status_code == 201, own.text
    assert client.post("/api/v1/qa/faq", headers=auth("citizen"), json={
        "item_code": "CS-XZSP-0001", "question": "问题？", "answer": "答案"}).status_code == 403
    assert client.post("/api/v1/qa/faq", json={
        "item_code": "CS-XZSP-0001", "question": "问题？", "answer": "答案"}).status_code == 401
    missing = client.post("/api/v1/qa/faq", headers=auth("admin"), json={
        "item_code": "CS-XXX-0001", "question": "问题？", "answer": "答案"})
    assert missing.status_code == 404


def test_catalogue_change_reindexes(client, auth):
    """A guide edit in the service catalogue (new material) reaches the index without a restart."""
    question = "量子纠缠检测"

    def codes() -> list[str]:
        answers = client.post("/api/v1/qa/ask", json={"question": question}).json()["answers"]
        return [a["item_code"] for a in answers]

    assert "CS-GJJ-0012" not in codes()
    guide = client.get("/api/v1/services/items/CS-GJJ-0012").json()
    materials = [{k: m[k] for k in ("name", "required", "original", "source")} for m in guide["materials"]]
    materials.append({"name": "量子纠缠检测报告", "required": True, "original": False, "source": "applicant"})
    edited = client.patch("/api/v1/services/items/CS-GJJ-0012", headers=auth("admin"), json={"materials": materials})
    assert edited.status_code == 200, edited.text
    assert codes()[0] == "CS-GJJ-0012"
