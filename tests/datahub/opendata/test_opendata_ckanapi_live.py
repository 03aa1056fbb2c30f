"""The unmodified ``ckanapi`` client against a running server (uvicorn in a subprocess on the demo city)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import ckanapi
import pytest
import requests

from xc_testing import api_server_command, free_port, running_server


@pytest.fixture(scope="module")
def live_url(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("ckan-live") / "data"
    shutil.copytree(template_dir, data_dir)
    port = free_port()
    env = {**os.environ, "XC_DATA_DIR": str(data_dir), "XC_AUDIT__SEQUENCER_ENABLED": "false"}
    env.pop("XC_DATABASE_URL", None)
    with running_server(api_server_command(port), port=port, env=env, log=data_dir.parent / "server.log") as url:
        yield url


def test_ckanapi_reads_the_portal(live_url):
    with ckanapi.RemoteCKAN(live_url, user_agent="xingcheng-tests/1.0") as ckan:
        status = ckan.action.status_show()
        assert status["ckan_version"].startswith("2.")
        found = ckan.action.package_search(q="空气质量", fq="organization:sthj", rows=5, sort="name asc")
        assert found["count"] >= 5 and len(found["results"]) == 5
        names = [p["name"] for p in found["results"]]
        assert names == sorted(names) and all(p["organization"]["name"] == "sthj" for p in found["results"])
        faceted = ckan.call_action("package_search", {"rows": 0, "facet.field": ["organization", "res_format"]})
        assert {i["name"] for i in faceted["search_facets"]["res_format"]["items"]} == {"CSV", "JSON", "Parquet"}
        package = ckan.action.package_show(id="sthj/air-quality-daily")
        assert package["name"] == "sthj/air-quality-daily"
        csv = next(r for r in package["resources"] if r["format"] == "CSV")
        assert ckan.action.resource_show(id=csv["id"])["package_id"] == package["id"]
        rows = ckan.action.datastore_search(resource_id=csv["id"], limit=3, sort="_id desc")
        assert len(rows["records"]) == 3 and rows["total"] >= 3
        assert rows["records"][0]["_id"] == rows["total"]
        assert "sthj" in ckan.action.organization_list()
        assert ckan.action.organization_show(id="sthj")["package_count"] >= 10
        assert "transport" in ckan.action.group_list()
        assert "空气质量" in ckan.action.tag_list()
        assert len(ckan.action.package_list()) >= 500
        download = requests.get(csv["url"], timeout=30)
        assert download.status_code == 200 and download.text.count("\n") == rows["total"] + 1


def test_ckanapi_errors_are_its_own_exceptions(live_url):
    with ckanapi.RemoteCKAN(live_url) as ckan:
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="no/such-dataset")
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="gaj/population-register")  # L4: not open data
        with pytest.raises(ckanapi.ValidationError) as invalid:
            ckan.action.package_search(rows="many")
        assert invalid.value.error_dict["rows"] == ["Invalid integer"]
        with pytest.raises(ckanapi.SearchQueryError):
            ckan.action.package_search(sort="secret desc")
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.package_create(name="x", title="x")


def test_ckanapi_get_only_mode(live_url):
    with ckanapi.RemoteCKAN(live_url, get_only=True) as ckan:
        found = ckan.action.package_search(q="公共厕所", rows=3)
        assert found["count"] >= 3 and all("公共厕所" in p["title"] for p in found["results"])
        with pytest.raises(ckanapi.NotFound):
            ckan.action.resource_show(id="0" * 36)
