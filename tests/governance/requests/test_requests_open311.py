"""Open311 GeoReport v2, exercised by a client written from the spec (form-encoded POST, .json/.xml
reads, the filters, tokens, error lists) and by the ``georeport`` client package for the reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests
from _requests_helpers import BEIJING, FURONG
from georeport import GeoReport
from requests.adapters import BaseAdapter

from xingcheng.core.identity import service as identity
from xingcheng.core.identity.schemas import ApiKeyCreate

BASE = "/open311/v2"


@pytest.fixture
def api_key(any_db) -> str:  # type: ignore[no-untyped-def]
    _, secret = identity.create_api_key(any_db, data=ApiKeyCreate(name="FixMyStreet 长沙"))
    any_db.commit()  # kept when a request that fails rolls back its own changes
    return secret


def _post(client, api_key: str | None, fmt: str = "json", **fields: Any):  # type: ignore[no-untyped-def]
    form = {"service_code": "AUTO", "lat": str(FURONG[1]), "long": str(FURONG[0]),
            "description": "路边的井盖不见了，晚上很危险", "first_name": "明", "last_name": "李",
            "phone": "13900139000", "email": "li@example.cn", **fields}
    if api_key is not None:
        form["api_key"] = api_key
    # Open311 POSTs are application/x-www-form-urlencoded; httpx sends ``data=`` exactly so.
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def test_service_discovery_json_and_xml(client):
    services = client.get(f"{BASE}/services.json", params={"jurisdiction_id": "430100"})
    assert services.status_code == 200
    listed = services.json()
    codes = {s["service_code"] for s in listed}
    assert {"CG-BBQ", "WATER", "AUTO"} <= codes
    first = listed[0]
    assert set(first) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert first["metadata"] is False and first["type"] == "realtime"
    root = ET.fromstring(client.get(f"{BASE}/services.xml").content)
    assert root.tag == "services" and len(root.findall("service")) == len(listed)
    definition = client.get(f"{BASE}/services/CG-BBQ.json").json()
    assert definition == {"service_code": "CG-BBQ", "attributes": []}
    assert ET.fromstring(client.get(f"{BASE}/services/CG-BBQ.xml").content).tag == "service_definition"


def test_post_then_read_back_by_id_token_and_filters(client, api_key):
    posted = _post(client, api_key)
    assert posted.status_code == 201, posted.text
    [receipt] = posted.json()
    ticket, token = receipt["service_request_id"], receipt["token"]
    [by_id] = client.get(f"{BASE}/requests/{ticket}.json").json()
    assert by_id["status"] == "open" and by_id["service_code"] == "CG-ROAD"  # AUTO was routed
    assert by_id["agency_responsible"] == "长沙市城市管理和综合执法局"
    assert abs(by_id["lat"] - FURONG[1]) < 1e-9 and "13900139000" not in str(by_id)  # no personal data
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [{"service_request_id": ticket, "token": token}]
    listed = client.get(f"{BASE}/requests.json", params={"service_code": "CG-ROAD", "status": "open"}).json()
    assert ticket in {r["service_request_id"] for r in listed}
    assert all(r["status"] == "open" and r["service_code"] == "CG-ROAD" for r in listed)
    closed = client.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert ticket not in {r["service_request_id"] for r in closed}
    future = client.get(f"{BASE}/requests.json", params={"start_date": "2030-01-01T00:00:00Z"}).json()
    assert future == []
    several = client.get(f"{BASE}/requests.json", params={"service_request_id": f"{ticket},NOPE"}).json()
    assert [r["service_request_id"] for r in several] == [ticket]
    xml = ET.fromstring(client.get(f"{BASE}/requests/{ticket}.xml").content)
    assert xml.tag == "service_requests" and xml.findtext("request/service_request_id") == ticket


def test_post_xml_and_explicit_service_code(client, api_key):
    posted = _post(client, api_key, fmt="xml", service_code="WATER", description="家里停水一整天了")
    assert posted.status_code == 201 and posted.headers["content-type"].startswith("application/xml")
    ticket = ET.fromstring(posted.content).findtext("request/service_request_id")
    [read] = client.get(f"{BASE}/requests/{ticket}.json").json()
    assert read["service_code"] == "WATER" and "水业" in read["agency_responsible"]


def test_errors_come_back_in_open311_format(client, api_key):
    cases = [
        (_post(client, None), 400),  # no api_key
        (_post(client, "xck_000000000000_wrong"), 403),
        (_post(client, api_key, service_code="NO-SUCH"), 400),
        (_post(client, api_key, description=""), 400),
        (_post(client, api_key, description="长" * 2001), 400),
        (_post(client, api_key, lat=str(BEIJING[1]), long=str(BEIJING[0])), 422),
        (_post(client, api_key, lat="", long="", address_string=""), 400),
        (_post(client, api_key, lat="north"), 400),
        (_post(client, api_key, jurisdiction_id="nyc.gov"), 404),
        (client.get(f"{BASE}/services/NO-SUCH.json"), 404),
        (client.get(f"{BASE}/requests/CS0000000000000.json"), 404),
        (client.get(f"{BASE}/tokens/nope.json"), 404),
        (client.get(f"{BASE}/requests.json", params={"status": "pending"}), 400),
        (client.get(f"{BASE}/requests.json", params={"start_date": "yesterday"}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        [error] = response.json()
        assert error["code"] == status and error["description"]
    xml = client.get(f"{BASE}/services/NO-SUCH.xml")
    assert xml.status_code == 404
    root = ET.fromstring(xml.content)
    assert root.tag == "errors" and root.findtext("error/code") == "404"


def test_nothing_accepted_is_lost(client, api_key, any_db):
    from xingcheng.governance.requests import service

    receipts = [_post(client, api_key, description=f"第{i}次反映：路灯不亮").json()[0] for i in range(3)]
    for receipt in receipts:
        stored = service.get_by_ticket(any_db, ticket=receipt["service_request_id"])
        assert stored is not None and stored.channel == "open311" and stored.client_name == "FixMyStreet 长沙"


class _TestClientAdapter(BaseAdapter):
    """Lets the ``requests``-based client talk to the in-process app."""

    def __init__(self, client) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        answer = self.client.request(request.method, request.url, headers=dict(request.headers), content=request.body)
        response = requests.Response()
        response.status_code, response._content = answer.status_code, answer.content
        response.headers.update(answer.headers)
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


def test_the_georeport_client_package_reads_our_endpoint(client, api_key, monkeypatch):
    ticket = _post(client, api_key).json()[0]["service_request_id"]
    adapter = _TestClientAdapter(client)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: adapter)
    for fmt in ("json", "xml"):
        georeport = GeoReport("http://testserver/open311/v2", jurisdiction="430100", output_format=fmt)
        services = georeport.get_service_list()
        assert any(s["service_code"] == "CG-BBQ" for s in services)
        assert georeport.get_service_definition("CG-BBQ")["service_code"] == "CG-BBQ"
        single = georeport.get_service_request(ticket)
        assert single["service_request_id"] == ticket
        found = georeport.get_service_requests(service_request_id=ticket)
        found = found if isinstance(found, list) else [found]
        assert [r["service_request_id"] for r in found] == [ticket]
