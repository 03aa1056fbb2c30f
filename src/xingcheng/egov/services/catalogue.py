"""The shipped catalogue facts and the honest rules that derive guide fields from them.

``data/service_items.csv`` is the city's catalogue (383 real items). Nothing here invents an
item: materials are classified by their names, process keys follow the issue's rules, and the
implementation list follows which departments keep district branches.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

# Materials the base registries answer (identity, household, market-entity registration, retirement).
REGISTRY_MARKERS = ("身份证", "户口簿", "营业执照", "统一社会信用代码证书", "法人登记证书", "退休证明")
# Certificates the city issues itself and keeps in the e-licence library (电子证照库).
E_LICENCE_MARKERS = (
    "居住证", "出生医学证明", "结婚证", "不动产权证书", "不动产登记证明", "国有建设用地使用权证书", "驾驶证",
    "行驶证", "残疾人证", "就业创业证", "就业失业登记证明", "许可证", "宗教活动场所登记证", "社会保障卡",
)
# A form the applicant fills in, a declaration or a list they compile: always the applicant's own.
FORM_SUFFIXES = ("表", "申请书", "声明书", "声明", "自填单", "承诺书", "委托书")

# Municipal departments with an office in each district or county (公安分局, 区民政局, 区人社局 …).
DISTRICT_BRANCHES: dict[str, str] = {
    "gaj": "公安", "mz": "民政", "rsj": "人力资源和社会保障", "sbj": "社会保险", "jyzx": "就业服务",
    "scj": "市场监管", "ybj": "医疗保障", "yb_center": "医疗保障", "gjj": "住房公积金", "zrzy": "自然资源和规划",
    "bdc": "不动产登记", "swj_tax": "税务", "jyj": "教育", "wjw": "卫生健康", "tyjr": "退役军人事务",
    "cl": "残疾人联合会", "sfj": "司法行政",
}
INSTANT_ITEMS = ("CS-HRSS-AUTO", "CS-HPF-AUTO", "CS-CA-AUTO")  # 秒批
ENTERPRISE_START = "企业开办"  # the life event of the 一件事一次办 enterprise start
CITY_OFFICE = "长沙市政务服务中心"
HOTLINE = "12345"  # 长沙市12345政务服务便民热线
HOURS = "法定工作日（具体时间以政务服务中心公告为准）"


@dataclass(frozen=True)
class CatalogueRow:
    code: str
    name: str
    department_code: str
    item_type: str
    audience: tuple[str, ...]
    life_event: str
    online: bool
    max_visits: int
    statutory_days: int
    promised_days: int
    materials: tuple[str, ...]


def read_catalogue() -> list[CatalogueRow]:
    """The catalogue CSV shipped in the package, parsed."""
    text = resources.files("xingcheng.egov.services").joinpath("data", "service_items.csv").read_text(encoding="utf-8")
    return [
        CatalogueRow(
            code=r["code"], name=r["name"], department_code=r["department_code"], item_type=r["item_type"],
            audience=tuple(a for a in r["audience"].split(";") if a), life_event=r["life_event"],
            online=r["online"] == "1", max_visits=int(r["max_visits"]), statutory_days=int(r["statutory_days"]),
            promised_days=int(r["promised_days"]), materials=tuple(m for m in r["materials"].split(";") if m),
        )
        for r in csv.DictReader(text.splitlines())
    ]


def material_source(name: str) -> str:
    """``registry``, ``e_licence`` or ``applicant``: whether the city already holds this material."""
    if name.startswith("原") or name.endswith(FORM_SUFFIXES) or "名单" in name or "名册" in name:
        return "applicant"  # an old paper card handed back, a form, a declaration, a list
    if any(marker in name for marker in REGISTRY_MARKERS):
        return "registry"
    if any(marker in name for marker in E_LICENCE_MARKERS):
        return "e_licence"
    return "applicant"


def material_is_original(name: str, source: str) -> bool:
    # Forms are signed originals and identity papers and licences are shown in the original for
    # checking; supporting documents are accepted as copies unless the department says otherwise.
    return source != "applicant" or name.endswith(FORM_SUFFIXES)


def process_key(row: CatalogueRow) -> str:
    if row.code in INSTANT_ITEMS:
        return f"instant-{row.code}"
    if row.life_event == ENTERPRISE_START:
        return "enterprise-start"
    return "generic"


def derived_conditions(row: CatalogueRow) -> str:
    """受理条件 as far as the catalogue facts allow; departments refine it through the API."""
    who = "、".join({"个人": "个人（自然人）", "法人": "法人及其他组织"}[a] for a in row.audience)
    held = sum(material_source(m) != "applicant" for m in row.materials)
    parts = [f"申请对象：{who}。", f"需提供材料{len(row.materials)}项"]
    parts.append(f"，其中{held}项由政府部门共享获取，无需重复提交。" if held else "。")
    return "".join(parts)
