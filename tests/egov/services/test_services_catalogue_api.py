"""The public 一网通办 catalogue over HTTP: counts, filters and facets, guides, KPIs, bad input."""

from __future__ import annotations

from collections import Counter

import pytest
from _services_facts import catalogue_rows

ROWS = catalogue_rows()


def test_catalogue_holds_every_csv_item_without_login(client):
    page = client.get("/api/v1/services/items?limit=1000").json()  # no Authorization header: public
    assert page["total"] == len(ROWS) == 383
    assert {item["code"] for item in page["items"]} == {row["code"] for row in ROWS}
    assert {item["name"] for item in page["items"]} == {row["name"] for row in ROWS}


def test_implementation_list_reaches_a_thousand_entries(client):
    page = client.get("/api/v1/services/implementations?limit=5").json()
    assert page["total"] >= 1000 and len(page["items"]) == 5
    # Every item is handled at least at the city centre; district entries keep the item's code.
    furong = client.get("/api/v1/services/implementations?division_code=430102&department_code=gaj&limit=100").json()
    gaj_items = {row["code"] for row in ROWS if row["department_code"] == "gaj"}
    assert {entry["item_code"] for entry in furong["items"]} == gaj_items
    assert all(entry["office_name"] == "芙蓉区政务服务中心" for entry in furong["items"])
    assert len({entry["id"] for entry in furong["items"]}) == furong["total"] == len(gaj_items)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("department_code=gjj", lambda r: r["department_code"] == "gjj"),
        ("life_event=企业开办", lambda r: r["life_event"] == "企业开办"),
        ("audience=法人", lambda r: "法人" in r["audience"].split(";")),
        ("item_type=行政许可&online=true", lambda r: r["item_type"] == "行政许可" and r["online"] == "1"),
        ("max_visits=0", lambda r: r["max_visits"] == "0"),
        ("online=false", lambda r: r["online"] == "0"),
    ],
)
def test_filters_match_the_csv(client, query, predicate):
    page = client.get(f"/api/v1/services/items?limit=1000&{query}").json()
    expected = {row["code"] for row in ROWS if predicate(row)}
    assert expected and {item["code"] for item in page["items"]} == expected and page["total"] == len(expected)


def test_facets_count_the_filtered_set(client):
    page = client.get("/api/v1/services/items?audience=个人&limit=1").json()
    personal = [row for row in ROWS if "个人" in row["audience"]]
    events = {f["value"]: f["count"] for f in page["facets"]["life_event"]}
    assert events == dict(Counter(row["life_event"] for row in personal))
    departments = {f["value"]: f["count"] for f in page["facets"]["department_code"]}
    assert sum(departments.values()) == page["total"] == len(personal)


def test_keyword_search_ranks_name_hits_before_material_hits(client):
    page = client.get("/api/v1/services/items?q=公积金&limit=1000").json()
    names = [item["name"] for item in page["items"]]
    assert names and all("公积金" in n for n in names[: sum("公积金" in r["name"] for r in ROWS)])
    by_material = client.get("/api/v1/services/items?q=出生医学证明&limit=1000").json()
    assert {i["code"] for i in by_material["items"]} == {
        r["code"] for r in ROWS if "出生医学证明" in r["name"] or "出生医学证明" in r["materials"]
    }
    assert client.get("/api/v1/services/items?q=不存在的事项名称").json()["total"] == 0


def test_item_guide(client):
    guide = client.get("/api/v1/services/items/CS-HPF-AUTO").json()
    assert guide["name"] == "住房公积金提取（退休）" and guide["process_key"] == "instant-CS-HPF-AUTO"
    materials = {m["name"]: m for m in guide["materials"]}
    assert list(materials) == ["居民身份证", "退休证明", "本人银行卡"]
    assert materials["居民身份证"]["held_by_city"] and not materials["本人银行卡"]["held_by_city"]
    assert guide["materials_required"] == 3 and guide["materials_held_by_city"] == 2
    assert guide["time_limit_label"] == "即办" and guide["visits_label"] == "最多跑一次" and guide["fee_free"]
    # gjj has district offices: the city centre plus nine district centres.
    assert len(guide["implementations"]) == 10
    assert guide["implementations"][0]["level"] == "city"
    start = client.get("/api/v1/services/items/CS-SCJ-0001").json()
    assert start["process_key"] == "enterprise-start"
    assert {m["name"]: m["held_by_city"] for m in start["materials"]}.get("营业执照", True)


def test_life_events_cover_the_csv(client):
    events = client.get("/api/v1/services/life-events").json()
    assert {e["life_event"]: e["items"] for e in events} == dict(Counter(r["life_event"] for r in ROWS))


def test_kpis_are_computed_from_the_catalogue(client):
    kpis = client.get("/api/v1/services/kpis").json()
    total = len(ROWS)
    assert kpis["items"] == total
    assert kpis["online_rate"] == pytest.approx(sum(r["online"] == "1" for r in ROWS) / total, abs=1e-4)
    assert kpis["at_most_one_visit_share"] == pytest.approx(
        sum(int(r["max_visits"]) <= 1 for r in ROWS) / total, abs=1e-4
    )
    assert kpis["zero_visit_items"] == sum(r["max_visits"] == "0" for r in ROWS)
    assert kpis["avg_promised_days"] == pytest.approx(sum(int(r["promised_days"]) for r in ROWS) / total, abs=0.01)
    assert kpis["avg_statutory_days"] == pytest.approx(sum(int(r["statutory_days"]) for r in ROWS) / total, abs=0.01)
    gjj = next(d for d in kpis["departments"] if d["department_code"] == "gjj")
    gjj_rows = [r for r in ROWS if r["department_code"] == "gjj"]
    assert gjj["items"] == len(gjj_rows)
    assert gjj["online_rate"] == pytest.approx(sum(r["online"] == "1" for r in gjj_rows) / len(gjj_rows), abs=1e-4)
    assert sum(d["items"] for d in kpis["departments"]) == total
    assert kpis["implementations"] >= 1000


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/services/items?max_visits=-1",
        "/api/v1/services/items?audience=外星人",
        "/api/v1/services/items?limit=0",
        "/api/v1/services/items/not-a-code",
        "/api/v1/services/implementations?division_code=abc",
    ],
)
def test_bad_input_is_a_422_problem(client, url):
    response = client.get(url)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]


def test_unknown_item_is_a_404_problem(client):
    response = client.get("/api/v1/services/items/CS-GJJ-9999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "CS-GJJ-9999" in response.json()["detail"]
