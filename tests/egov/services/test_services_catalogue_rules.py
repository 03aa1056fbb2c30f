"""The rules that derive guide fields from catalogue facts: 免提交 materials, process links, the 实施清单."""

from __future__ import annotations

import pytest

from xingcheng.egov.services.catalogue import DISTRICT_BRANCHES, material_source, process_key, read_catalogue
from xingcheng.egov.services.demo import implementation_rows


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("居民身份证", "registry"), ("户口簿", "registry"), ("营业执照", "registry"), ("法定代表人身份证", "registry"),
        ("结婚证", "e_licence"), ("不动产权证书", "e_licence"), ("残疾人证", "e_licence"),
        # Forms, declarations and paper cards handed back are the applicant's, whatever they mention.
        ("居民身份证申领登记表", "applicant"), ("营业执照遗失声明", "applicant"), ("原残疾人证", "applicant"),
        ("驾驶证申请表", "applicant"), ("劳动合同", "applicant"), ("本人银行卡", "applicant"),
    ],
)
def test_material_source(name, source):
    assert material_source(name) == source


def test_process_links_follow_the_issue():
    keys = {row.code: process_key(row) for row in read_catalogue()}
    assert keys["CS-HRSS-AUTO"] == "instant-CS-HRSS-AUTO" and keys["CS-CA-AUTO"] == "instant-CS-CA-AUTO"
    assert keys["CS-SCJ-0001"] == "enterprise-start" and keys["CS-GJJ-0003"] == "generic"
    assert sum(key == "enterprise-start" for key in keys.values()) == 14


def test_implementation_list_is_city_window_plus_district_branches():
    catalogue = read_catalogue()
    districts = [("430102", "芙蓉区"), ("430104", "岳麓区")]
    rows = implementation_rows(catalogue, {}, districts, "430100")
    branched = sum(row.department_code in DISTRICT_BRANCHES for row in catalogue)
    assert len(rows) == len(catalogue) + 2 * branched
    # No invented street numbers: district addresses defer to the centre's own notice.
    assert all("以" in row["address"] and "公告为准" in row["address"] for row in rows)
    assert {row["office_name"] for row in rows if row["level"] == "district"} == {"芙蓉区政务服务中心", "岳麓区政务服务中心"}


def test_portal_links_and_process_wording():
    from xingcheng.web.services import browse_url, process_text

    assert browse_url() == "/portal/services"
    assert browse_url(life_event="企业开办", offset=0, q="") == "/portal/services?life_event=%E4%BC%81%E4%B8%9A%E5%BC%80%E5%8A%9E"
    assert process_text("instant-CS-CA-AUTO").startswith("秒批")
    assert "并联" in process_text("enterprise-start")
