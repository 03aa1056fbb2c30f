"""The open-data demo's topics: what Changsha's portal publishes, with a column generator per field.

A field is ``(name, title, type, generator)``; generators are tuples read by ``demo.column``.
"""

from __future__ import annotations

from typing import Any

DISTRICTS: dict[str, tuple[str, float, float]] = {  # code → (name, centre lng, centre lat)
    "430102": ("芙蓉区", 113.03, 28.19), "430103": ("天心区", 112.99, 28.11), "430104": ("岳麓区", 112.93, 28.23),
    "430105": ("开福区", 112.99, 28.26), "430111": ("雨花区", 113.04, 28.13), "430112": ("望城区", 112.82, 28.35),
    "430121": ("长沙县", 113.08, 28.25), "430181": ("浏阳市", 113.64, 28.16), "430182": ("宁乡市", 112.55, 28.28),
}
ROADS = ("五一大道", "芙蓉路", "韶山路", "劳动路", "人民路", "湘江中路", "麓山路", "枫林路", "万家丽路", "东二环",
         "车站路", "解放路", "黄兴路", "蔡锷路", "八一路", "营盘路", "金星路", "岳麓大道", "潇湘大道", "桐梓坡路",
         "银盆岭路", "雨花亭路", "香樟路", "南湖路", "新韶路", "远大路", "长沙大道", "湘府路", "木莲路", "星沙大道")
STATIONS = ("马坡岭", "湖南师范大学", "雨花区环保局", "高开区环保局", "伍家岭", "天心区环保局", "火车新站", "经开区环保局",
            "沙坪", "岳麓区环保局")
SECTIONS = ("湘江枫林宾馆", "湘江猴子石", "湘江三汊矶", "浏阳河黎托", "浏阳河三角洲", "捞刀河榔梨", "靳江河入湘江口",
            "沩水新康", "圭塘河入湘江口")
COMPANIES = ("湖南星城建设工程有限公司", "长沙湘江环境科技有限公司", "湖南麓谷信息技术股份有限公司", "长沙芙蓉餐饮管理有限公司",
             "湖南岳麓建材贸易有限公司", "长沙天心物业服务有限公司", "湖南橘洲文化传媒有限公司", "长沙雨花汽车服务有限公司",
             "湖南开福商贸有限公司", "长沙望城农业发展有限公司", "浏阳花炮物流有限公司", "宁乡食品加工有限公司")
SCENIC = ("岳麓山", "橘子洲", "天心阁", "靖港古镇", "铜官窑古镇", "石燕湖", "大围山", "花明楼", "灰汤温泉", "世界之窗",
          "湖南省博物馆", "长沙海底世界", "千龙湖", "关山古镇", "黑麋峰", "沙坪湘绣小镇")
PURCHASERS = ("长沙市教育局", "长沙市卫生健康委员会", "长沙市交通运输局", "长沙市城市管理和综合执法局", "长沙市数据资源局",
              "长沙市公安局", "长沙市生态环境局", "长沙市文化旅游广电局")
PROJECTS = ("信息化运维服务", "办公设备采购", "物业管理服务", "道路维修工程", "绿化养护服务", "医疗设备采购", "课桌椅采购",
            "监测设备采购", "宣传品印制", "软件开发服务")


def f(name: str, title: str, type_: str, *gen: Any) -> tuple[str, str, str, tuple[Any, ...]]:
    return (name, title, type_, gen)


POINT = (f("lng", "经度", "float", "lng"), f("lat", "纬度", "float", "lat"))
PLACE = (f("address", "地址", "string", "address"), f("division_code", "所在区县", "string", "district"))

# (key, department, title, tags, frequency, fields)
TOPICS: list[tuple[str, str, str, list[str], str, tuple[tuple[str, str, str, tuple[Any, ...]], ...]]] = [
    ("public-toilets", "cgj", "公共厕所分布", ["公共厕所", "城市管理", "便民"], "monthly", (
        f("toilet_name", "公厕名称", "string", "poi", "公共厕所"), *PLACE, *POINT,
        f("toilet_type", "类型", "string", "pick", "固定式", "移动式", "附属式"),
        f("accessible", "无障碍设施", "string", "pick", "有", "无"),
        f("opening_hours", "开放时间", "string", "pick", "全天", "06:00-22:00", "07:00-21:00"))),
    ("bus-stations", "gjjt", "公交站点", ["公交", "站点", "交通"], "monthly", (
        f("stop_name", "站点名称", "string", "poi", "公交站"), f("lines", "途经线路", "string", "lines"),
        f("division_code", "所在区县", "string", "district"), *POINT,
        f("shelter", "候车亭", "string", "pick", "有", "无"))),
    ("parking-lots", "jtj", "停车场", ["停车", "交通", "便民"], "daily", (
        f("lot_name", "停车场名称", "string", "poi", "停车场"), *PLACE, *POINT,
        f("spaces", "泊位数", "int", "int", 30, 1200), f("charging_spaces", "充电泊位数", "int", "int", 0, 80),
        f("fee_standard", "收费标准", "string", "pick", "首小时5元，之后每小时2元", "每小时3元", "免费"))),
    ("kindergartens", "jyj", "幼儿园名录", ["幼儿园", "教育", "学前教育"], "yearly", (
        f("school_name", "幼儿园名称", "string", "poi", "幼儿园"),
        f("nature", "办园性质", "string", "pick", "公办", "普惠性民办", "民办"), *PLACE,
        f("classes", "班级数", "int", "int", 3, 18), f("hotline", "咨询电话", "string", "hotline"), *POINT)),
    ("air-quality-daily", "sthj", "空气质量日报", ["空气质量", "环境", "AQI"], "daily", (
        f("report_date", "日期", "date", "daily"), f("station", "监测站点", "string", "choice", STATIONS),
        f("division_code", "所在区县", "string", "district"), f("aqi", "空气质量指数", "int", "int", 20, 180),
        f("pm25", "PM2.5（μg/m³）", "float", "float", 8, 120), f("pm10", "PM10（μg/m³）", "float", "float", 15, 160),
        f("o3", "臭氧（μg/m³）", "float", "float", 20, 200),
        f("level", "空气质量级别", "string", "pick", "优", "良", "良", "轻度污染"))),
    ("procurement-notices", "czj", "政府采购公告", ["政府采购", "招标", "财政"], "daily", (
        f("notice_no", "公告编号", "string", "seq", "CSCG-2026-"), f("project_name", "项目名称", "string", "project"),
        f("purchaser", "采购人", "string", "choice", PURCHASERS),
        f("method", "采购方式", "string", "pick", "公开招标", "竞争性磋商", "询价", "单一来源"),
        f("budget_yuan", "预算金额（元）", "float", "float", 50_000, 8_000_000),
        f("published_on", "发布日期", "date", "date"), f("division_code", "所在区县", "string", "district"))),
    ("ev-charging-stations", "gdj", "新能源汽车充电站", ["充电桩", "新能源", "交通"], "monthly", (
        f("station_name", "充电站名称", "string", "poi", "充电站"), *PLACE, *POINT,
        f("piles", "充电桩数", "int", "int", 4, 60), f("fast_piles", "快充桩数", "int", "int", 0, 30),
        f("operator", "运营单位", "string", "pick", "国网湖南电动汽车服务有限公司", "特来电", "星星充电", "长沙新能源公交"))),
    ("designated-pharmacies", "ybj", "医保定点零售药店", ["医保", "药店", "医疗"], "monthly", (
        f("pharmacy_name", "药店名称", "string", "poi", "大药房"), *PLACE, f("hotline", "联系电话", "string", "hotline"),
        *POINT)),
    ("designated-hospitals", "ybj", "医保定点医疗机构", ["医保", "医院", "医疗"], "monthly", (
        f("hospital_name", "机构名称", "string", "poi", "社区卫生服务中心"),
        f("level", "机构等级", "string", "pick", "三级甲等", "二级甲等", "一级", "未定级"), *PLACE, *POINT)),
    ("public-libraries", "wlj", "公共图书馆与农家书屋", ["图书馆", "文化", "阅读"], "yearly", (
        f("library_name", "名称", "string", "poi", "图书分馆"), *PLACE,
        f("opening_hours", "开放时间", "string", "pick", "09:00-21:00", "09:00-17:00", "周二至周日 09:00-20:00"), *POINT)),
    ("scenic-spots", "wlj", "A级旅游景区", ["旅游", "景区", "文化"], "yearly", (
        f("spot_name", "景区名称", "string", "choice", SCENIC), f("grade_level", "景区等级", "string", "pick", "5A", "4A", "3A"),
        *PLACE, *POINT)),
    ("surface-water-monthly", "sthj", "地表水水质月报", ["水质", "环境", "湘江"], "monthly", (
        f("report_month", "月份", "date", "monthly"), f("section", "监测断面", "string", "choice", SECTIONS),
        f("division_code", "所在区县", "string", "district"), f("ph", "pH值", "float", "float", 6.5, 8.5),
        f("dissolved_oxygen", "溶解氧（mg/L）", "float", "float", 5, 10), f("cod", "化学需氧量（mg/L）", "float", "float", 5, 20),
        f("water_class", "水质类别", "string", "pick", "Ⅱ类", "Ⅱ类", "Ⅲ类"))),
    ("rainfall-daily", "qx", "降水量与气温日报", ["气象", "降水", "气温"], "daily", (
        f("report_date", "日期", "date", "daily"), f("division_code", "所在区县", "string", "district"),
        f("rainfall_mm", "降水量（毫米）", "float", "float", 0, 60), f("max_temp", "最高气温（℃）", "float", "float", 5, 38),
        f("min_temp", "最低气温（℃）", "float", "float", -2, 28))),
    ("public-bike-stations", "jtj", "公共自行车站点", ["自行车", "慢行", "交通"], "monthly", (
        f("station_name", "站点名称", "string", "poi", "公共自行车点"), f("division_code", "所在区县", "string", "district"),
        *POINT, f("docks", "锁桩数", "int", "int", 10, 40))),
    ("elderly-care-institutions", "mz", "养老机构名录", ["养老", "民政", "社会福利"], "quarterly", (
        f("institution_name", "机构名称", "string", "poi", "颐养中心"),
        f("nature", "性质", "string", "pick", "公办", "民办", "公建民营"),
        f("beds", "床位数", "int", "int", 20, 600), *PLACE, f("hotline", "联系电话", "string", "hotline"))),
    ("sports-venues", "tyj", "公共体育场馆", ["体育", "健身", "场馆"], "yearly", (
        f("venue_name", "场馆名称", "string", "poi", "全民健身中心"),
        f("venue_type", "类型", "string", "pick", "体育馆", "游泳馆", "足球场", "篮球场", "健身路径"),
        *PLACE, f("free_open", "免费开放", "string", "pick", "是", "否"), *POINT)),
    ("job-fairs", "jyzx", "招聘会信息", ["就业", "招聘", "人才"], "weekly", (
        f("fair_title", "招聘会名称", "string", "pick",
          "春风行动专场招聘会", "高校毕业生专场招聘会", "民营企业招聘月", "退役军人专场招聘会"),
        f("held_on", "举办日期", "date", "date"), f("venue", "举办地点", "string", "poi", "人力资源市场"),
        f("companies", "参会企业数", "int", "int", 20, 300), f("positions", "提供岗位数", "int", "int", 200, 8000))),
    ("administrative-penalties", "scj", "行政处罚信息公示", ["行政处罚", "信用", "双公示"], "daily", (
        f("decision_no", "决定书文号", "string", "seq", "长市监处罚〔2026〕"),
        f("party_name", "当事人名称", "string", "choice", COMPANIES),
        f("violation", "违法行为类型", "string", "pick", "食品安全", "价格违法", "虚假宣传", "无证经营", "计量违法"),
        f("penalty", "处罚内容", "string", "pick", "警告", "罚款", "没收违法所得并罚款"),
        f("decided_on", "处罚决定日期", "date", "date"),
        f("division_code", "所在区县", "string", "district"))),
    ("planning-permits", "zrzy", "建设工程规划许可证", ["规划", "许可", "建设"], "weekly", (
        f("permit_no", "证号", "string", "seq", "建字第430100202"), f("project_name", "项目名称", "string", "poi", "安置小区"),
        f("builder", "建设单位", "string", "choice", COMPANIES), f("division_code", "所在区县", "string", "district"),
        f("floor_area", "建筑面积（平方米）", "float", "float", 2_000, 300_000), f("issued_on", "发证日期", "date", "date"))),
    ("housing-price-index", "tjj", "新建商品住宅销售价格指数", ["房价", "统计", "住房"], "monthly", (
        f("report_month", "月份", "date", "monthly"), f("division_code", "区县", "string", "district"),
        f("index_mom", "环比指数", "float", "float", 98.5, 101.5), f("index_yoy", "同比指数", "float", "float", 94, 104))),
    ("traffic-congestion-daily", "gaj", "交通拥堵指数日报", ["交通", "拥堵", "出行"], "daily", (
        f("report_date", "日期", "date", "daily"), f("division_code", "区县", "string", "district"),
        f("peak_index", "高峰拥堵指数", "float", "float", 1.1, 2.4),
        f("avg_speed_kmh", "平均车速（公里/小时）", "float", "float", 18, 45))),
    ("emergency-shelters", "yjj", "应急避难场所", ["应急", "避难", "安全"], "yearly", (
        f("shelter_name", "场所名称", "string", "poi", "应急避难场所"), *PLACE,
        f("capacity", "可容纳人数", "int", "int", 500, 30_000),
        f("area_m2", "有效面积（平方米）", "float", "float", 1_000, 80_000),
        *POINT)),
    ("water-outage-notices", "sw", "计划停水通知", ["停水", "供水", "便民"], "daily", (
        f("notice_no", "通知编号", "string", "seq", "TS2026"), f("affected_area", "停水区域", "string", "poi", "片区"),
        f("starts_at", "开始时间", "timestamp", "timestamp"), f("hours", "预计时长（小时）", "int", "int", 2, 16),
        f("reason", "原因", "string", "pick", "管网改造", "管道抢修", "设备检修"),
        f("division_code", "所在区县", "string", "district"))),
    ("power-outage-plans", "gdj", "计划停电公告", ["停电", "供电", "便民"], "daily", (
        f("notice_no", "公告编号", "string", "seq", "TD2026"), f("affected_area", "停电范围", "string", "poi", "线路"),
        f("starts_at", "开始时间", "timestamp", "timestamp"), f("hours", "预计时长（小时）", "int", "int", 2, 10),
        f("reason", "原因", "string", "pick", "线路检修", "设备更换", "配合市政工程"),
        f("division_code", "所在区县", "string", "district"))),
    ("garbage-sorting-points", "cgj", "垃圾分类投放点", ["垃圾分类", "环境", "社区"], "quarterly", (
        f("point_name", "投放点名称", "string", "poi", "垃圾分类投放点"), f("division_code", "所在区县", "string", "district"),
        *POINT, f("bins", "分类桶组数", "int", "int", 1, 8))),
]
