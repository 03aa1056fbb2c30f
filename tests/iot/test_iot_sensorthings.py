"""OGC SensorThings API v1.1 read subset: paths, query options, paging, errors — and the unmodified frost-sta-client."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import requests
from frost_sta_client import SensorThingsService
from frost_sta_client.service.auth_handler import AuthHandler
from sqlalchemy import func, select

from xc_testing import api_server_command, free_port, running_server
from xingcheng.iot.models import Thing

STA = "/sta/v1.1"


def test_service_root_lists_the_entity_sets_and_needs_a_login(sqlite_client, auth):
    assert sqlite_client.get(STA).status_code == 401
    error = sqlite_client.get(f"{STA}/Things")
    assert error.status_code == 401 and error.json()["type"] == "error"  # SensorThings' error body, not problem+json
    root = sqlite_client.get(STA, headers=auth("operator")).json()
    assert {v["name"] for v in root["value"]} == {"Things", "Locations", "Sensors", "ObservedProperties", "Datastreams",
                                                 "Observations"}


def test_things_page_with_count_next_link_expand_and_filter(sqlite_client, auth, db):
    headers = auth("operator")
    page = sqlite_client.get(f"{STA}/Things", params={"$top": 5, "$count": "true", "$expand": "Datastreams"},
                             headers=headers).json()
    assert page["@iot.count"] == db.scalar(select(func.count()).select_from(Thing)) and len(page["value"]) == 5
    assert "$skip=5" in page["@iot.nextLink"]
    thing = page["value"][0]
    assert thing["@iot.selfLink"].endswith(f"/Things({thing['@iot.id']})")
    assert thing["Datastreams"] and all(d["name"].startswith(thing["properties"]["key"]) for d in thing["Datastreams"])
    following = sqlite_client.get(page["@iot.nextLink"].replace("http://testserver", ""), headers=headers).json()
    assert following["value"][0]["@iot.id"] != thing["@iot.id"]

    gas = sqlite_client.get(f"{STA}/Things", params={"$filter": "properties/kind eq 'gas_sensor' and properties/division_code eq "
                                                     "'430102'", "$count": "true"}, headers=headers).json()
    assert gas["@iot.count"] > 0
    assert all(t["properties"]["kind"] == "gas_sensor" and t["properties"]["division_code"] == "430102" for t in gas["value"])
    newest_first = sqlite_client.get(f"{STA}/Things", params={"$orderby": "id desc", "$top": 2}, headers=headers).json()
    assert newest_first["value"][0]["@iot.id"] > newest_first["value"][1]["@iot.id"]


def test_navigation_single_entities_and_locations(sqlite_client, auth):
    headers = auth("operator")
    stream = sqlite_client.get(f"{STA}/Datastreams", params={"$top": 1, "$expand": "Thing,ObservedProperty"},
                               headers=headers).json()["value"][0]
    assert stream["Thing"]["@iot.id"] and stream["ObservedProperty"]["definition"].startswith("http")
    thing = sqlite_client.get(f"{STA}/Datastreams({stream['@iot.id']})/Thing", headers=headers).json()
    assert thing["@iot.id"] == stream["Thing"]["@iot.id"]
    [location] = sqlite_client.get(f"{STA}/Things({thing['@iot.id']})/Locations", headers=headers).json()["value"]
    lon, lat = location["location"]["coordinates"]
    assert 111.8 < lon < 114.3 and 27.8 < lat < 28.7  # inside Changsha
    assert sqlite_client.get(f"{STA}/Things(999999999)", headers=headers).status_code == 404


def test_observations_filter_by_time_and_result_in_order(sqlite_client, auth):
    headers = auth("operator")
    stream = sqlite_client.get(f"{STA}/Datastreams", params={"$filter": "properties/key eq 'no-such'"}, headers=headers)
    assert stream.json()["value"] == []
    first = sqlite_client.get(f"{STA}/Datastreams", params={"$top": 1}, headers=headers).json()["value"][0]
    url = f"{STA}/Datastreams({first['@iot.id']})/Observations"
    newest = sqlite_client.get(url, params={"$top": 3, "$count": "true"}, headers=headers).json()
    assert newest["@iot.count"] > 3 and len(newest["value"]) == 3
    times = [o["phenomenonTime"] for o in newest["value"]]
    assert times == sorted(times, reverse=True)  # newest first by default
    cut = newest["value"][1]["phenomenonTime"]
    after = sqlite_client.get(url, params={"$filter": f"phenomenonTime gt {cut}", "$orderby": "phenomenonTime asc"},
                              headers=headers).json()["value"]
    assert [o["phenomenonTime"] for o in after] == [newest["value"][0]["phenomenonTime"]]
    one = sqlite_client.get(f"{STA}/Observations('{newest['value'][0]['@iot.id']}')", headers=headers).json()
    assert one["result"] == newest["value"][0]["result"]


@pytest.mark.parametrize(("path", "params", "status"), [
    ("Things", {"$filter": "name like 'x'"}, 400),
    ("Things", {"$filter": "nosuch eq 1"}, 400),
    ("Things", {"$top": "-1"}, 400),
    ("Things", {"$top": "5000"}, 400),
    ("Things", {"$expand": "Observations"}, 400),
    ("Things", {"$orderby": "name sideways"}, 400),
    ("Nothing", {}, 404),
    ("Things(1)/Nothing", {}, 404),
    ("Observations('garbage')", {}, 404),
    ("Observations", {"$filter": "phenomenonTime gt yesterday"}, 400),
])
def test_bad_requests_get_sensorthings_errors(sqlite_client, auth, path, params, status):
    response = sqlite_client.get(f"{STA}/{path}", params=params, headers=auth("operator"))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["type"] == "error" and body["message"]


# ---- the unmodified frost-sta-client against a running server ---------------------------------

class BearerAuth(AuthHandler):
    """frost-sta-client's documented hook: ``add_auth_header`` returns a requests auth object."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def add_auth_header(self):  # type: ignore[no-untyped-def]
        token = self.token

        def auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
            request.headers["Authorization"] = f"Bearer {token}"
            return request

        return auth


@pytest.fixture
def live_server(template_dir: Path, tmp_path: Path) -> Iterator[str]:
    data_dir = tmp_path / "city"
    shutil.copytree(template_dir, data_dir)
    port = free_port()
    env = {**os.environ, "XC_DATA_DIR": str(data_dir), "XC_AUDIT__SEQUENCER_ENABLED": "false"}
    env.pop("XC_DATABASE_URL", None)
    env.pop("XC_MQTT_URL", None)
    with running_server(api_server_command(port), port=port, env=env, log=tmp_path / "server.log") as url:
        yield url


def test_frost_sta_client_reads_things_datastreams_and_observations(live_server):
    token = httpx.post(f"{live_server}/api/v1/auth/token",
                       data={"username": "operator", "password": "Operator@2026"}).json()["access_token"]
    service = SensorThingsService(f"{live_server}/sta/v1.1", auth_handler=BearerAuth(token))

    things = service.things().query().top(10).expand("Datastreams").list()
    assert len(things.entities) == 10
    thing = things.entities[0]
    assert thing.name and thing.datastreams.entities

    found = service.things().find(thing.id)
    assert found.name == thing.name

    datastreams = service.datastreams().query().filter(f"Thing/id eq {thing.id}").list()
    assert {d.id for d in datastreams.entities} == {d.id for d in thing.datastreams.entities}
    stream = service.datastreams().find(datastreams.entities[0].id)
    assert stream.unit_of_measurement.symbol

    observations = stream.get_observations().query().top(5).list()
    assert len(observations.entities) == 5
    assert all(isinstance(o.result, float) for o in observations.entities)
    since = (datetime(2026, 6, 30, 12, tzinfo=UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    recent = stream.get_observations().query().filter(f"phenomenonTime ge {since}").list()
    assert 0 < len(recent.entities) <= 100
