"""Fixed vocabularies of the open portal: themes (CKAN groups), formats and the default licence."""

from __future__ import annotations

# Open-data themes (开放主题), the portal's CKAN groups: name → title.
THEMES: dict[str, str] = {
    "transport": "交通出行", "education": "教育文化", "health": "医疗卫生", "environment": "生态环境",
    "economy": "经济发展", "livelihood": "社会民生", "urban": "城建住房", "safety": "公共安全",
    "government": "政务公开", "agriculture": "农业农村", "finance": "财税金融", "credit": "信用服务",
    "tourism": "文化旅游", "resources": "资源能源", "employment": "劳动就业",
}
# The theme a department's datasets get when the publisher names none.
DEPARTMENT_THEMES: dict[str, str] = {
    "gov": "government", "dsj": "government", "xzsp": "government", "fgw": "economy", "jyj": "education",
    "kjj": "education", "gxj": "economy", "mzj": "livelihood", "gaj": "safety", "mz": "livelihood", "sfj": "safety",
    "czj": "finance", "rsj": "employment", "zrzy": "resources", "sthj": "environment", "zjj": "urban", "cgj": "urban",
    "jtj": "transport", "swj": "resources", "nyj": "agriculture", "swuj": "economy", "wlj": "tourism",
    "wjw": "health", "tyjr": "livelihood", "yjj": "safety", "sjj": "finance", "gzw": "economy", "scj": "credit",
    "tjj": "economy", "ybj": "health", "lyj": "environment", "rfb": "safety", "xfj": "government", "tyj": "education",
    "zxj": "urban", "gjj": "finance", "sbj": "employment", "yb_center": "health", "bdc": "urban", "gjjt": "transport",
    "sw": "resources", "rqgs": "resources", "gdj": "resources", "jyzx": "employment", "ylzx": "livelihood",
    "swj_tax": "finance", "hg": "economy", "rmyh": "finance", "jrjg": "finance", "yc": "economy", "qx": "environment",
    "yz": "transport", "tw": "livelihood", "fl": "livelihood", "cl": "livelihood", "zgh": "employment",
    "kx": "education", "hsh": "health", "gsl": "economy", "dag": "government",
}
FORMATS: tuple[str, ...] = ("CSV", "JSON", "Parquet")
MEDIA_TYPES: dict[str, str] = {
    "CSV": "text/csv", "JSON": "application/json", "Parquet": "application/vnd.apache.parquet",
}
EXTENSIONS: dict[str, str] = {"CSV": "csv", "JSON": "json", "Parquet": "parquet"}
DEFAULT_LICENCE = "CC-BY-4.0"
LICENCES: dict[str, tuple[str, str]] = {  # id → (title, URL)
    "CC-BY-4.0": ("知识共享署名 4.0 (CC BY 4.0)", "https://creativecommons.org/licenses/by/4.0/"),
    "CC0-1.0": ("知识共享零 1.0 (CC0)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODC-BY-1.0": ("开放数据共享署名许可 (ODC-By)", "https://opendatacommons.org/licenses/by/1-0/"),
}
