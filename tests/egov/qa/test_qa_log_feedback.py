"""Every question is logged with personal data stripped; feedback needs the answer's token;
staff see the unanswered list; citizens do not."""

from __future__ import annotations

import pytest

from xingcheng.egov.qa.anonymise import anonymise


@pytest.mark.parametrize(
    ("raw", "gone", "placeholder"),
    [
        ("我叫张三，身份证430102199001011234丢了", ("张三", "430102199001011234"), ("[姓名]", "[身份证号]")),
        ("王先生电话13812345678想问公积金", ("王先", "13812345678"), ("[手机号]",)),
        ("帮我妈刘桂英办低保", ("刘桂英",), ("[姓名]",)),
        ("座机0731-88889999，邮箱zs@example.com", ("88889999", "zs@example.com"), ("[电话]", "[邮箱]")),
        ("银行卡6222 0212 3456 7890 怎么绑定社保卡", ("3456",), ("[号码]",)),
    ],
)
def test_anonymise_strips_personal_data(raw, gone, placeholder):
    clean = anonymise(raw)
    assert all(value not in clean for value in gone)
    assert all(mark in clean for mark in placeholder)


def test_anonymise_keeps_the_question():
    assert anonymise("我是高龄老人想办老年证") == "我是高龄老人想办老年证"
    assert anonymise("我是个体户，执照丢了") == "我是个体户,执照丢了"


def test_question_log_is_anonymised_and_feedback_needs_the_token(client, auth):
    body = client.post("/api/v1/qa/ask", json={"question": "我叫李小明，手机13912345678，公积金租房怎么提取",
                                              "channel": "portal"}).json()
    assert "李小明" not in body["question"] and "13912345678" not in body["question"]
    question_id, token = body["question_id"], body["feedback_token"]

    wrong = client.post(f"/api/v1/qa/questions/{question_id}/feedback", json={"token": "x" * 32, "helpful": True})
    assert wrong.status_code == 404
    empty = client.post(f"/api/v1/qa/questions/{question_id}/feedback", json={"token": token})
    assert empty.status_code == 422
    unknown = client.post(f"/api/v1/qa/questions/{question_id}/feedback",
                          json={"token": token, "clicked_item_code": "CS-XXX-9999"})
    assert unknown.status_code == 422

    ok = client.post(f"/api/v1/qa/questions/{question_id}/feedback",
                     json={"token": token, "clicked_item_code": "CS-GJJ-0004", "helpful": False})
    assert ok.status_code == 200, ok.text
    assert ok.json()["clicked_code"] == "CS-GJJ-0004" and ok.json()["helpful"] is False

    staff = auth("admin")
    logged = client.get("/api/v1/qa/questions?limit=1000", headers=staff).json()
    row = next(q for q in logged["items"] if q["id"] == question_id)
    assert row["question"] == body["question"] and row["channel"] == "portal"
    assert row["top_codes"][0] == "CS-GJJ-0004"
    # "Not helpful" puts an answered question on the unanswered list.
    unanswered = client.get("/api/v1/qa/questions?unanswered=true&limit=1000", headers=staff).json()
    assert question_id in {q["id"] for q in unanswered["items"]}
    stats = client.get("/api/v1/qa/stats", headers=staff).json()
    assert stats["questions"] >= 1 and stats["with_feedback"] >= 1 and stats["index_items"] == 383


def test_question_log_is_for_staff_only(client, auth):
    assert client.get("/api/v1/qa/questions").status_code == 401
    forbidden = client.get("/api/v1/qa/questions", headers=auth("citizen"))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
