"""Builders shared by the exchange tests (a unique module name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pyarrow as pa

from xc_testing import login
from xingcheng.core.db import utcnow

CATALOG = "/api/v1/catalog/datasets"
EXCHANGE = "/api/v1/exchange"
SLUG = "gaj/resident-visits"
PURPOSE = "business-licence-identity-check"
OWNER_LOGIN = ("gaj_staff", "Gaj@2026")
ID_A, ID_B = "11010519491231002X", "430102199001011238"
_TOKENS: dict[str, dict[str, str]] = {}


def owner_headers(client: Any, session: Any) -> dict[str, str]:
    """Bearer headers of the 公安局 demo login (``gaj_staff``), one login per backend."""
    backend = session.get_bind().engine.url.get_backend_name()
    if backend not in _TOKENS:
        _TOKENS[backend] = login(client, *OWNER_LOGIN)
    return _TOKENS[backend]


def dataset_body() -> dict[str, Any]:
    return {
        "owner_department_code": "gaj", "name": "resident-visits", "title": "长沙市流动人口来访登记",
        "description": "派出所登记的来访人员信息。", "category": "sector", "grade": "L3", "update_frequency": "daily",
        "source_system": "警务综合平台", "tags": ["人口"], "spatial_coverage": ["430100"], "licence": "", "fields": [
            {"name": "id_number", "title": "公民身份号码", "kind": "id_number", "grade": "L3", "required": True},
            {"name": "name", "title": "姓名", "kind": "name", "grade": "L3"},
            {"name": "phone", "title": "联系电话", "kind": "phone", "grade": "L3"},
            {"name": "address", "title": "居住地址", "kind": "address", "grade": "L3"},
            {"name": "division_code", "title": "区县", "grade": "L1"},
        ],
    }


def csv_rows(start: int, count: int) -> bytes:
    lines = ["id_number,name,phone,address,division_code"]
    for i in range(start, start + count):
        lines.append(f"{ID_A if i % 2 == 0 else ID_B},{'张三' if i % 2 == 0 else '欧阳修'},138{i:08d},"
                     f"湖南省长沙市岳麓区麓山南路{i}号,430104")
    return ("\n".join(lines) + "\n").encode()


def make_dataset(client: Any, session: Any, rows: int = 5) -> None:
    created = client.post(CATALOG, json=dataset_body(), headers=owner_headers(client, session))
    assert created.status_code == 201, created.text
    upload(client, session, 0, rows)


def upload(client: Any, session: Any, start: int, count: int) -> None:
    response = client.post(f"{CATALOG}/{SLUG}/rows", files={"file": ("rows.csv", csv_rows(start, count), "text/csv")},
                           headers=owner_headers(client, session))
    assert response.status_code == 200 and response.json()["rows_rejected"] == 0, response.text


def request_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"dataset": SLUG, "fields": ["id_number", "name", "division_code"], "purpose": PURPOSE,
                            "legal_basis": "《优化营商环境条例》第三十五条",
                            "requested_until": (utcnow() + timedelta(days=90)).isoformat()}
    body.update(changes)
    return body


def approved_request(client: Any, session: Any, auth: Any, **changes: Any) -> dict[str, Any]:
    created = client.post(f"{EXCHANGE}/requests", json=request_body(**changes), headers=auth("clerk"))
    assert created.status_code == 201, created.text
    approved = client.post(f"{EXCHANGE}/requests/{created.json()['id']}/approve", json={"reason": "同意"},
                           headers=owner_headers(client, session))
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


def read_arrow(body: bytes) -> pa.Table:
    import pyarrow.ipc as ipc

    return ipc.open_stream(io.BytesIO(body)).read_all()
