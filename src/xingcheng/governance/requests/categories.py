"""The request categories (Open311 services): who handles each and in how many working days.

Department codes are the city's (``departments.csv``); the division of duties follows Changsha's:
城管 handles street order, 市政设施, 环卫, 园林 and 餐饮油烟/露天烧烤; 生态环境 handles industrial
pollution; 公安 handles 社会生活噪声, 治安 and traffic (交警); 住建 handles 物业 and construction sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Category:
    code: str  # Open311 service_code
    name: str  # zh-CN, the service_name
    department_code: str
    sla_days: int  # working days from assignment to reply
    group: str  # Open311 group
    keywords: tuple[str, ...] = ()


CATEGORIES: tuple[Category, ...] = (
    Category("CG-VEND", "占道经营与流动摊贩", "cgj", 3, "城市管理", ("占道经营", "流动摊贩", "夜市", "摆摊")),
    Category("CG-BBQ", "露天烧烤与餐饮油烟", "cgj", 3, "城市管理", ("烧烤", "油烟", "排烟")),
    Category("CG-BUILD", "违法建设", "cgj", 10, "城市管理", ("违建", "搭建", "加层", "封阳台")),
    Category("CG-SAN", "环境卫生与垃圾清运", "cgj", 2, "城市管理", ("垃圾", "环卫", "公厕", "清扫")),
    Category("CG-ROAD", "道路与市政设施", "cgj", 5, "城市管理", ("坑洼", "井盖", "人行道", "路灯")),
    Category("CG-DRAIN", "排水与内涝", "cgj", 2, "城市管理", ("下水道", "内涝", "积水", "化粪池")),
    Category("CG-GREEN", "园林绿化", "cgj", 5, "城市管理", ("树木", "绿化带", "修剪", "草坪")),
    Category("CG-AD", "户外广告与乱张贴", "cgj", 3, "城市管理", ("广告牌", "小广告", "招牌")),
    Category("CG-MUCK", "渣土运输与夜间施工", "cgj", 2, "城市管理", ("渣土", "夜间施工", "撒漏")),
    Category("CG-BIKE", "共享单车与非机动车停放", "cgj", 3, "城市管理", ("共享单车", "电动车乱停")),
    Category("HB-AIR", "工业废气与异味", "sthj", 5, "生态环境", ("废气", "异味", "臭味", "黑烟")),
    Category("HB-WATER", "水体污染", "sthj", 5, "生态环境", ("污水", "排污", "河水变黑")),
    Category("HB-NOISE", "工业噪声与辐射", "sthj", 5, "生态环境", ("工厂噪音", "辐射", "基站")),
    Category("GA-NOISE", "社会生活噪声", "gaj", 2, "公共安全", ("广场舞", "噪音扰民", "KTV")),
    Category("GA-ORDER", "治安与养犬", "gaj", 2, "公共安全", ("治安", "打架", "诈骗", "犬只")),
    Category("GA-TRAFFIC", "交通秩序与违停", "gaj", 3, "交通出行", ("违停", "红绿灯", "拥堵", "炸街")),
    Category("GA-HUKOU", "户籍与证件", "gaj", 5, "公共安全", ("户口", "身份证", "居住证")),
    Category("JT-TAXI", "出租车与网约车", "jtj", 5, "交通出行", ("出租车", "网约车", "拒载", "绕路")),
    Category("JT-ROADS", "公路与交通运输", "jtj", 5, "交通出行", ("公路", "客运", "驾校", "地铁")),
    Category("BUS", "公交服务", "gjjt", 3, "交通出行", ("公交", "站台", "司机")),
    Category("WATER", "供水", "sw", 1, "水电气", ("停水", "水压", "水质", "水表")),
    Category("POWER", "供电", "gdj", 1, "水电气", ("停电", "电压", "电费", "跳闸")),
    Category("GAS", "燃气", "rqgs", 1, "水电气", ("燃气", "天然气", "气表")),
    Category("ZJ-PROP", "物业服务", "zjj", 5, "住房", ("物业", "业委会", "维修资金", "物业费")),
    Category("ZJ-HOUSE", "房屋质量与交房", "zjj", 10, "住房", ("开发商", "交房", "漏水", "裂缝", "烂尾")),
    Category("ZJ-SITE", "建筑工地管理", "zjj", 3, "住房", ("工地", "扬尘", "塔吊")),
    Category("ZXJ", "保障性住房", "zxj", 10, "住房", ("公租房", "廉租房", "人才公寓", "租赁补贴")),
    Category("BDC", "不动产登记", "bdc", 10, "住房", ("房产证", "不动产证", "过户")),
    Category("GJJ", "住房公积金", "gjj", 5, "住房", ("公积金",)),
    Category("SC-FOOD", "食品药品安全", "scj", 3, "市场监管", ("食品", "过期", "变质", "药店")),
    Category("SC-CONS", "消费维权与价格", "scj", 7, "市场监管", ("退款", "欺诈", "价格", "预付卡", "缺斤少两")),
    Category("SC-LIFT", "电梯等特种设备", "scj", 2, "市场监管", ("电梯", "困人", "锅炉")),
    Category("RS-WAGE", "劳动保障与欠薪", "rsj", 5, "就业社保", ("欠薪", "工资", "劳动合同", "工伤")),
    Category("SB", "社会保险", "sbj", 7, "就业社保", ("社保", "养老金", "社保卡")),
    Category("JY", "就业服务", "jyzx", 7, "就业社保", ("就业", "失业", "招聘", "创业补贴")),
    Category("YB", "医疗保障", "ybj", 7, "卫生健康", ("医保", "报销", "异地就医")),
    Category("WJ", "医疗卫生", "wjw", 5, "卫生健康", ("医院", "医生", "疫苗", "诊所")),
    Category("EDU", "教育", "jyj", 5, "教育", ("学校", "入学", "学位", "培训机构")),
    Category("MZ", "民政与养老", "mz", 7, "社会事务", ("低保", "养老院", "婚姻登记", "殡葬")),
    Category("TAX", "税务", "swj_tax", 5, "政务服务", ("发票", "个税", "退税")),
    Category("XZSP", "政务服务与审批", "xzsp", 5, "政务服务", ("营业执照", "审批", "办事窗口")),
    Category("SL", "水利与防汛", "swj", 3, "生态环境", ("河道", "堤坝", "采砂", "山塘")),
    Category("NY", "农业农村", "nyj", 5, "农业农村", ("农药", "宅基地", "禁捕", "病死猪")),
    Category("LY", "林业与野生动物", "lyj", 5, "生态环境", ("砍伐", "林地", "野生动物")),
    Category("WL", "文化旅游", "wlj", 5, "文化旅游", ("景区", "旅行社", "网吧", "导游")),
    Category("YJ", "安全生产与应急", "yjj", 2, "公共安全", ("安全隐患", "烟花爆竹", "危化品", "消防通道")),
    Category("ZR", "规划与自然资源", "zrzy", 10, "住房", ("规划", "占用耕地", "采矿")),
    Category("TYJR", "退役军人服务", "tyjr", 7, "社会事务", ("退役", "优抚", "军人")),
    Category("CL", "残疾人服务", "cl", 7, "社会事务", ("残疾证", "残疾人")),
    Category("YZ", "邮政快递", "yz", 5, "市场监管", ("快递", "包裹", "驿站")),
    Category("SW", "商贸流通", "swuj", 5, "市场监管", ("农贸市场", "菜市场", "加油站", "报废车")),
    Category("TY", "体育设施", "tyj", 7, "文化旅游", ("健身器材", "体育场", "体育馆")),
    Category("JR", "金融服务", "jrjg", 7, "市场监管", ("银行", "保险", "贷款")),
)

DEFAULT_SLA_DAYS = 5


@lru_cache(maxsize=1)
def by_code() -> dict[str, Category]:
    return {c.code: c for c in CATEGORIES}


def get_category(code: str) -> Category | None:
    return by_code().get(code)


def department_codes() -> frozenset[str]:
    return frozenset(c.department_code for c in CATEGORIES)


def default_category_for(department_code: str) -> Category | None:
    """The first category a department handles (used when a dispatcher picks only a department)."""
    return next((c for c in CATEGORIES if c.department_code == department_code), None)
