"""Asking the finder over HTTP: ranked items with guide facts, explanations, places, follow-ups,
synonyms and typos, near-twin clarification, bad input (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest


def ask(client, question: str, **extra):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/qa/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_answer_carries_guide_facts_without_login(client):
    body = ask(client, "退休了公积金怎么取")
    assert body["answered"] is True
    assert len(body["answers"]) == 3
    top = body["answers"][0]
    assert top["item_code"] == "CS-HPF-AUTO" and top["name"] == "住房公积金提取（退休）"
    assert top["department_name"] == "长沙住房公积金管理中心"
    assert "居民身份证" in top["materials"]
    assert top["time_limit_label"] and top["visits_label"] and isinstance(top["online"], bool)
    assert top["where"]["office_name"] and top["where"]["division_code"]
    assert top["guide_url"] == "/api/v1/services/items/CS-HPF-AUTO"
    assert any("退休" in term for term in top["matched_terms"]) and top["explanation"].startswith("匹配：")
    scores = [a["score"] for a in body["answers"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]
    # A situation named in the question settles the near-twins: no clarifying question.
    assert body["clarification"] is None
    assert {"said": "公积金", "understood_as": "住房公积金", "by_pinyin": False} in body["understood"]
    # The guide the answer points to is the catalogue's own.
    guide = client.get(top["guide_url"]).json()
    assert guide["materials_required"] == len(top["materials"])


@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("身分证掉了咋办", "CS-GAJ-0003"),  # homophone typo 身分证, colloquial 掉了
        ("公基金租房提取", "CS-GJJ-0004"),  # typo 公基金 for 公积金
        ("社保卡丢了怎么补", "CS-SBJ-0012"),  # 社保卡 → 社会保障卡
        ("我妈想办个老年证", "CS-CA-AUTO"),  # 老年证 → 老年人优待证
        ("开奶茶店要办营业执照吗", "CS-SCJ-0002"),
        ("去外地看病医保要备案吗", "CS-YBJ-0001"),
    ],
)
def test_synonyms_and_typos(client, question, code):
    assert ask(client, question)["answers"][0]["item_code"] == code


def test_near_twins_get_a_clarifying_question(client):
    body = ask(client, "公积金怎么取")
    clarification = body["clarification"]
    assert clarification is not None and clarification["family"] == "住房公积金提取"
    labels = {o["label"] for o in clarification["options"]}
    assert {"退休", "租赁住房", "购买自住住房", "偿还住房贷款", "重大疾病", "死亡或宣告死亡"} <= labels
    assert {o["item_code"] for o in clarification["options"]} >= {"CS-HPF-AUTO", "CS-GJJ-0004"}
    id_card = ask(client, "身份证怎么办理")["clarification"]
    assert id_card is not None and id_card["family"] == "居民身份证"
    # Saying the situation answers without asking.
    assert ask(client, "租房子能用公积金付房租吗")["clarification"] is None


def test_life_event_follow_ups(client):
    body = ask(client, "生了孩子要办什么")
    codes = {a["item_code"] for a in body["answers"]} | {f["item_code"] for f in body["follow_ups"]}
    assert body["life_event"] == "出生"
    assert {"CS-GAJ-0008", "CS-WJW-0005", "CS-YB_CENTER-0001"} <= codes  # 户口登记, 出生医学证明, 新生儿医保


def test_district_named_in_the_question_picks_that_office(client):
    body = ask(client, "岳麓区身份证丢了在哪补办")
    top = body["answers"][0]
    assert top["item_code"] == "CS-GAJ-0003"
    assert body["district"] == "岳麓区"
    assert top["where"]["division_code"] == "430104" and "岳麓区" in top["where"]["office_name"]
    city = ask(client, "身份证丢了在哪补办")["answers"][0]["where"]
    assert city["division_code"] == "430100"


def test_nonsense_is_logged_as_unanswered(client, auth):
    body = ask(client, "今天晚上吃点啥好呢")
    assert body["answered"] is False and body["follow_ups"] == []
    page = client.get("/api/v1/qa/questions?unanswered=true", headers=auth("admin")).json()
    assert body["question_id"] in {q["id"] for q in page["items"]}


@pytest.mark.parametrize(
    "payload",
    [{}, {"question": ""}, {"question": "   "}, {"question": "x" * 201}, {"question": "公积金", "limit": 0},
     {"question": "公积金", "channel": "fax"}, {"question": "公积金", "extra": 1}],
)
def test_bad_questions_are_problem_json(client, payload):
    response = client.post("/api/v1/qa/ask", json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
