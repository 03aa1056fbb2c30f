"""CKAN Action API on SQLite and PostgreSQL: envelope, search with facets/paging/sorting, shows, lists, errors."""

from __future__ import annotations

from opendata_testing import ACTION, TOILETS, ckan_error, ok, published, resource_id
from sqlalchemy import func, select

from xingcheng.datahub.catalog.models import Dataset, DatasetTag
from xingcheng.datahub.opendata.models import OpenPackage
from xingcheng.datahub.opendata.service import public_ids


def test_status_show_and_envelope(client):
    result = ok(client.get(f"{ACTION}/status_show"))
    assert result["ckan_version"].startswith("2.") and "datastore" in result["extensions"]
    assert ok(client.post(f"{ACTION}/status_show", json={})) == result


def test_package_search_counts_only_public_and_facets_add_up(client, any_db):
    public = any_db.scalar(select(func.count()).select_from(public_ids().subquery()))
    everything = any_db.scalar(select(func.count()).select_from(Dataset))
    assert public >= 500 and everything > public
    result = ok(client.get(f"{ACTION}/package_search", params={
        "rows": 5, "facet.field": '["organization","groups","tags","res_format","license_id"]', "facet.limit": -1}))
    assert result["count"] == public and len(result["results"]) == 5
    facets = result["search_facets"]
    assert set(facets) == {"organization", "groups", "tags", "res_format", "license_id"}
    assert sum(i["count"] for i in facets["organization"]["items"]) == public
    assert sum(i["count"] for i in facets["groups"]["items"]) == public
    assert {i["name"]: i["count"] for i in facets["res_format"]["items"]} == {"CSV": public, "JSON": public, "Parquet": public}
    item = facets["organization"]["items"][0]
    assert set(item) == {"name", "display_name", "count"} and item["display_name"].startswith(("长沙", "国"))
    assert result["facets"]["organization"][item["name"]] == item["count"]
    # The organization facet agrees with filtering by it.
    filtered = ok(client.get(f"{ACTION}/package_search", params={"fq": f"organization:{item['name']}", "rows": 1000}))
    assert filtered["count"] == item["count"]
    assert {p["organization"]["name"] for p in filtered["results"]} == {item["name"]}


def test_package_search_chinese_query_fq_and_sort(client):
    result = ok(client.get(f"{ACTION}/package_search", params={"q": "公共厕所", "rows": 20}))
    assert result["count"] >= 20
    exact = ["公共厕所" in p["title"] for p in result["results"]]
    assert exact[:8] == [True] * 8 and exact == sorted(exact, reverse=True)  # whole-phrase matches rank first
    combined = ok(client.post(f"{ACTION}/package_search", json={
        "q": "空气质量", "fq": 'organization:sthj tags:"空气质量" res_format:CSV', "rows": 50, "sort": "name asc"}))
    assert combined["count"] >= 5
    names = [p["name"] for p in combined["results"]]
    assert names == sorted(names)
    for package in combined["results"]:
        assert package["organization"]["name"] == "sthj"
        assert "空气质量" in [t["name"] for t in package["tags"]]
        assert "CSV" in [r["format"] for r in package["resources"]]
    negated = ok(client.get(f"{ACTION}/package_search", params={"fq": "-organization:sthj", "rows": 0}))
    everything = ok(client.get(f"{ACTION}/package_search", params={"rows": 0}))
    sthj = ok(client.get(f"{ACTION}/package_search", params={"fq": "organization:sthj", "rows": 0}))
    assert negated["count"] + sthj["count"] == everything["count"]
    titles = [p["title"] for p in ok(client.get(f"{ACTION}/package_search",
                                                  params={"sort": "title_string desc", "rows": 30}))["results"]]
    assert titles == sorted(titles, reverse=True)


def test_package_search_paging_is_disjoint_and_complete(client):
    first = ok(client.get(f"{ACTION}/package_search", params={"fq": "groups:transport", "rows": 7, "sort": "name asc"}))
    names = []
    for start in range(0, first["count"], 7):
        page = ok(client.get(f"{ACTION}/package_search",
                             params={"fq": "groups:transport", "rows": 7, "start": start, "sort": "name asc"}))
        names += [p["name"] for p in page["results"]]
    assert len(names) == first["count"] == len(set(names)) and names == sorted(names)


def test_package_show_resource_show_and_lists(client, any_db):
    package, _dataset = published(any_db)
    shown = ok(client.get(f"{ACTION}/package_show", params={"id": TOILETS}))
    assert shown["id"] == package.id and shown["title"] == "长沙市公共厕所分布"
    assert shown["organization"]["name"] == "cgj" and shown["groups"][0]["name"] == "urban"
    assert [r["format"] for r in shown["resources"]] == ["CSV", "JSON", "Parquet"]
    assert ok(client.get(f"{ACTION}/package_show", params={"id": package.id}))["name"] == TOILETS
    resource = ok(client.get(f"{ACTION}/resource_show", params={"id": resource_id(any_db)}))
    assert resource["package_id"] == package.id and resource["format"] == "CSV" and resource["datastore_active"]
    assert resource["url"].endswith(f"/api/v1/opendata/resources/{resource['id']}/download")
    names = ok(client.get(f"{ACTION}/package_list"))
    assert TOILETS in names and names == sorted(names)
    assert ok(client.get(f"{ACTION}/package_list", params={"limit": 3, "offset": 1})) == names[1:4]
    organizations = ok(client.get(f"{ACTION}/organization_list", params={"all_fields": "true"}))
    assert sum(o["package_count"] for o in organizations) == len(names)
    assert "cgj" in ok(client.get(f"{ACTION}/organization_list"))
    organization = ok(client.post(f"{ACTION}/organization_show", json={"id": "cgj", "include_datasets": True}))
    assert organization["title"] == "长沙市城市管理和综合执法局"
    assert len(organization["packages"]) == organization["package_count"] > 0
    groups = ok(client.get(f"{ACTION}/group_list", params={"all_fields": True}))
    assert sum(g["package_count"] for g in groups) == len(names)
    assert {"name": "transport", "title": "交通出行"}.items() <= next(g for g in groups if g["name"] == "transport").items()


def test_tag_list_holds_tags_of_public_datasets_only(client, any_db):
    tags = set(ok(client.get(f"{ACTION}/tag_list")))
    expected = set(any_db.scalars(select(DatasetTag.tag).where(DatasetTag.dataset_id.in_(public_ids())).distinct()))
    assert tags == expected
    assert "基础库" not in tags  # only the L3/L4 base registries carry it
    assert ok(client.get(f"{ACTION}/tag_list", params={"query": "公共厕所"})) == ["公共厕所"]


def test_errors_in_ckan_envelope(client):
    missing = ckan_error(client.get(f"{ACTION}/package_show", params={"id": "nope/none"}), 404, "Not Found Error")
    assert "nope/none" in missing["message"]
    ckan_error(client.get(f"{ACTION}/resource_show", params={"id": "0" * 36}), 404, "Not Found Error")
    ckan_error(client.get(f"{ACTION}/organization_show", params={"id": "nope"}), 404, "Not Found Error")
    invalid = ckan_error(client.get(f"{ACTION}/package_search", params={"rows": "ten"}), 422, "Validation Error")
    assert invalid["rows"] == ["Invalid integer"]
    ckan_error(client.get(f"{ACTION}/package_search", params={"rows": 5000}), 422, "Validation Error")
    ckan_error(client.post(f"{ACTION}/package_show", json={}), 422, "Validation Error")
    ckan_error(client.post(f"{ACTION}/package_search", content=b"{not json", headers={"Content-Type": "application/json"}),
               400, "Validation Error")
    ckan_error(client.get(f"{ACTION}/package_search", params={"sort": "owner_password desc"}), 409, "Search Query Error")
    ckan_error(client.get(f"{ACTION}/package_search", params={"fq": "grade:L3"}), 409, "Search Query Error")
    ckan_error(client.get(f"{ACTION}/package_search", params={"facet.field": '["grade"]'}), 422, "Validation Error")
    denied = ckan_error(client.post(f"{ACTION}/package_create", json={"name": "x"}), 403, "Authorization Error")
    assert "package_create" in denied["message"]
    ckan_error(client.get(f"{ACTION}/no_such_action"), 422, "Validation Error")
    # CKAN's unversioned path answers the same way.
    ckan_error(client.get("/api/action/package_show", params={"id": "nope/none"}), 404, "Not Found Error")


def test_l2_and_above_never_visible(client, any_db):
    hidden = list(any_db.scalars(select(Dataset.slug).where(Dataset.grade != "L1")))
    assert hidden
    names = set(ok(client.get(f"{ACTION}/package_list")))
    assert not names & set(hidden)
    for slug in hidden[:5]:
        ckan_error(client.get(f"{ACTION}/package_show", params={"id": slug}), 404, "Not Found Error")
    people = ok(client.get(f"{ACTION}/package_search", params={"q": "人口基础信息库 身份证", "rows": 1000}))
    assert all(p["name"] not in hidden for p in people["results"])
    # Regrading a published dataset upward hides it everywhere at once.
    package, dataset = published(any_db)
    csv = resource_id(any_db)
    dataset.grade = "L2"
    any_db.flush()
    ckan_error(client.get(f"{ACTION}/package_show", params={"id": TOILETS}), 404, "Not Found Error")
    ckan_error(client.get(f"{ACTION}/datastore_search", params={"resource_id": csv}), 404, "Not Found Error")
    assert client.get(f"/api/v1/opendata/resources/{csv}/download").status_code == 404
    assert TOILETS not in ok(client.get(f"{ACTION}/package_list"))
    found = ok(client.get(f"{ACTION}/package_search", params={"q": "长沙市公共厕所分布", "rows": 1000}))
    assert TOILETS not in [p["name"] for p in found["results"]]
    # Withdrawn packages are hidden as well.
    dataset.grade = "L1"
    package.state = "withdrawn"
    any_db.flush()
    assert TOILETS not in ok(client.get(f"{ACTION}/package_list"))
    assert any_db.scalar(select(func.count()).select_from(OpenPackage).where(OpenPackage.state == "withdrawn")) == 1
