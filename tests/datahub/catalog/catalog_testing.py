"""Builders shared by the catalogue tests (a unique module name: nested conftest files shadow ``conftest``)."""

from __future__ import annotations

from typing import Any

from xingcheng.core.auth import Principal

CLERK = Principal(kind="staff", name="clerk", roles=frozenset({"department_staff"}), department_code="xzsp")
STEWARD = Principal(kind="staff", name="steward", roles=frozenset({"data_steward"}), department_code="dsj")
PURPOSE = "license-review"
GOOD_ID, GOOD_PHONE = "11010519491231002X", "13812345678"


def dataset_body(name: str = "dog-immunisation", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "owner_department_code": "xzsp", "name": name, "title": "长沙市犬类免疫登记信息",
        "description": "审批窗口受理的犬只免疫登记，含犬主身份证号与联系电话。", "category": "sector", "grade": "L3",
        "update_frequency": "daily", "source_system": "一网通办", "tags": ["宠物", "免疫"], "spatial_coverage": ["430100"],
        "licence": "", "fields": [
            {"name": "owner_id", "title": "犬主身份证号", "kind": "id_number", "grade": "L3", "required": True},
            {"name": "owner_name", "title": "犬主姓名", "kind": "name", "grade": "L3"},
            {"name": "phone", "title": "联系电话", "kind": "phone", "grade": "L3"},
            {"name": "dog_count", "title": "犬只数量", "type": "int", "grade": "L1"},
            {"name": "vaccinated_on", "title": "免疫日期", "type": "date", "grade": "L2"},
        ],
    }
    body.update(changes)
    return body


CSV = (
    "owner_id,owner_name,phone,dog_count,vaccinated_on\n"
    f"{GOOD_ID},张三,{GOOD_PHONE},2,2026-03-01\n"
    "430102199001011230,李四,13900001111,1,2026-03-02\n"  # bad check digit
    f"{GOOD_ID},王五,12345,x,2026-02-30\n"  # bad phone, count and date
    ",赵六,13700002222,1,2026-03-04\n"  # required id missing
    f"{GOOD_ID},欧阳修,13700003333,3,\n"
)
