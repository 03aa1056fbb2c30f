"""The synthetic Changsha market-entity register: companies, 个体工商户, cooperatives, social organisations, 事业单位."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from xingcheng.core.ids import CREDIT_CODE_ALPHABET, make_credit_code
from xingcheng.datahub.registries import demo_data as data

AS_OF = data.AS_OF
ENTITIES = {"small": 300, "city": 22_000}
# entity type: (share %, registration authority, entity-type code) per GB 32100
KINDS = {"individual_business": (55, "9", "2"), "company": (38, "9", "1"), "cooperative": (3, "9", "3"),
         "social_organisation": (3, "5", "1"), "public_institution": (1, "1", "2")}
BANDS = ("micro", "small", "medium", "large")
# Adult = (id_number, name, division_code, employment_status)
Adult = tuple[str, str, str, str]
_URBAN_FACTOR = {"430102": 2.0, "430103": 1.4, "430104": 1.6, "430105": 1.3, "430111": 1.5, "430112": 0.8,
                 "430121": 1.0, "430181": 0.6, "430182": 0.6}
_ALNUM = CREDIT_CODE_ALPHABET
_WAN = 10_000


def band_thresholds(industry: str) -> tuple[int, int, int]:
    """Employee counts where small, medium and large start (统计上大中小微型企业划分办法, by industry)."""
    special = {"F51": (5, 20, 200), "F52": (10, 50, 300), "G59": (20, 100, 200)}
    if industry in special:
        return special[industry]
    return (20, 300, 1000) if industry[0] in "BCDE" or industry == "G54" else (10, 100, 300)


def revenue_band(industry: str, employees: int) -> str:
    return BANDS[sum(employees >= t for t in band_thresholds(industry))]


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]


class _EntityFactory:
    """Draws one entity at a time; credit codes and names stay unique across the register."""

    def __init__(self, rng: random.Random, adults: Sequence[Adult]) -> None:
        self.rng = rng
        self.codes: set[str] = set()
        self.names: set[str] = set()
        self.adults = list(adults)
        self.by_district: dict[str, list[Adult]] = {}
        self.operators: dict[str, list[Adult]] = {}
        for adult in adults:
            self.by_district.setdefault(adult[2], []).append(adult)
            if adult[3] == "self_employed":
                self.operators.setdefault(adult[2], []).append(adult)
        population = [(d, float(v[1])) for d, v in data.DISTRICTS.items()]
        self.default_districts = {
            "company": [(d, w * _URBAN_FACTOR[d]) for d, w in population],
            "individual_business": [(d, w * (1.2 if d in data.CORE_DISTRICTS else 0.9)) for d, w in population],
            "social_organisation": [(d, w * _URBAN_FACTOR[d]) for d, w in population],
            "public_institution": population,
        }

    # -- parts --------------------------------------------------------------------------
    def established(self, kind: str) -> date:
        rng = self.rng
        first, growth = {"individual_business": (1990, 1.20), "company": (1990, 1.13), "cooperative": (2008, 1.05),
                         "social_organisation": (1990, 1.05), "public_institution": (1990, 0.98)}[kind]
        years = range(first, AS_OF.year + 1)
        year = rng.choices(years, [growth ** (y - first) for y in years])[0]
        start = date(year, 1, 1)
        last = min(date(year, 12, 31), AS_OF)
        return start + timedelta(days=rng.randrange((last - start).days + 1))

    def credit_code(self, authority: str, entity_type: str, division: str, established: date) -> str:
        rng = self.rng
        while True:
            if authority == "5" and established >= date(2016, 1, 1):
                body = "MJ" + "".join(rng.choices(_ALNUM, k=6))
            elif authority == "9" and established >= date(2015, 10, 1):
                body = "MA4" + "".join(rng.choices(_ALNUM, k=5))  # new codes in Hunan start MA4
            else:
                body = str(rng.randint(1, 7)) + "".join(rng.choices("0123456789", k=7))
            try:
                code = make_credit_code(authority=authority, entity_type=entity_type, division_code=division,
                                        org_body=body)
            except ValueError:
                continue  # a body the GB 11714 check rules out; draw another
            if code not in self.codes:
                self.codes.add(code)
                return code

    def representative(self, district: str, *, operator: bool) -> Adult:
        rng = self.rng
        pool = self.operators.get(district) if operator else None
        if not pool or rng.random() < 0.2:
            pool = self.by_district.get(district) if rng.random() < 0.85 else None
        return rng.choice(pool or self.adults)

    def unique_name(self, make: Callable[[], str]) -> str:
        """A name not yet registered (30 draws; the word lists make a clash after that vanishingly rare)."""
        for _ in range(30):
            name = make()
            if name not in self.names:
                break
        self.names.add(name)
        return name

    def trade(self) -> str:
        return self.rng.choice(data.TRADE_FIRST) + self.rng.choice(data.TRADE_SECOND)

    def street_address(self, district: str) -> str:
        rng = self.rng
        return f"{data.DISTRICTS[district][2]}{rng.choice(data.STREETS[district])}{rng.randint(1, 888)}号"

    def village_address(self, district: str, town: str | None = None) -> str:
        rng = self.rng
        town = town or rng.choice(data.TOWNS[district])
        return f"{data.DISTRICTS[district][2]}{town}{rng.choice(data.VILLAGES)}村{rng.randint(1, 18)}组"

    def subdistrict(self, district: str) -> str:
        return self.rng.choice(data.SUBDISTRICTS.get(district) or data.TOWNS[district])

    def local_prefix(self, district: str) -> str:
        name = data.DISTRICTS[district][0]
        return name if name.endswith("市") or name.endswith("县") else "长沙市" + name

    # -- kinds --------------------------------------------------------------------------
    def company(self) -> dict[str, Any]:
        rng = self.rng
        code, industry, _w, words, districts = _weighted(rng, [(i, i[2]) for i in data.COMPANY_INDUSTRIES])
        district = _weighted(rng, districts or self.default_districts["company"])
        high_tech = rng.random() < data.HIGH_TECH_RATE.get(code, 0.001)
        heavy = code in data.INDUSTRIAL_DIVISIONS
        tier = rng.choices(range(4), (10, 60, 22, 8) if high_tech else (45, 38, 12, 5) if heavy else (72, 22, 5, 1))[0]
        bounds = (1, *band_thresholds(code), band_thresholds(code)[2] * 8)
        employees = int(math.exp(rng.uniform(math.log(bounds[tier]), math.log(bounds[tier + 1]))))
        employees = min(max(employees, bounds[tier]), bounds[tier + 1] - 1)
        capital_wan = rng.choice(((10, 30, 50, 100, 100, 200, 300, 500, 500, 1000), (100, 200, 500, 1000, 2000, 3000, 5000),
                                  (1000, 2000, 3000, 5000, 8000, 10000, 20000), (10000, 20000, 50000, 100000, 200000))[tier])
        if industry == "房地产业" and rng.random() < 0.7:
            capital_wan = max(capital_wan, 1000)
        region = ("浏阳市" if code == "C26" else
                  rng.choices(("湖南", "长沙", "长沙市", self.local_prefix(district)), (25, 35, 25, 15))[0])
        form = "股份有限公司" if tier >= 2 and rng.random() < 0.3 else "有限责任公司" if rng.random() < 0.05 else "有限公司"
        name = self.unique_name(lambda: f"{region}{self.trade()}{rng.choice(words)}{form}")
        if heavy or (code in ("I65", "I64", "M75", "M74") and rng.random() < 0.6):
            address = (f"{self.street_address(district)}{rng.choice(data.PARKS[district])}"
                       f"{rng.randint(1, 20)}栋{rng.randint(1, 24)}{rng.randint(1, 30):02d}室")
        else:
            address = f"{self.street_address(district)}{self.trade()}大厦{rng.randint(2, 32)}楼{rng.randint(1, 30):02d}号"
        revenue = employees * rng.uniform(40, 150) * _WAN
        rd = 0.0
        if high_tech:
            rd = round(revenue * rng.uniform(0.04, 0.12), -3)
        elif code[0] in "CIM" and rng.random() < 0.15:
            rd = round(revenue * rng.uniform(0.005, 0.03), -3)
        return {"industry_code": code, "industry_name": industry, "name": name, "division_code": district,
                "address": address, "employees": employees, "registered_capital_yuan": capital_wan * _WAN,
                "high_tech": high_tech, "rd_spend_yuan": int(rd),
                "exporter": rng.random() < data.EXPORT_RATE.get(code, 0.005), "registered_at_city": tier >= 2}

    def individual_business(self) -> dict[str, Any]:
        rng = self.rng
        outer = [d for d in data.DISTRICTS if d in data.TOWNS and d not in data.CORE_DISTRICTS]
        code, industry, _w, shops, villages_only = _weighted(rng, [(i, i[2]) for i in data.INDIVIDUAL_INDUSTRIES])
        district = rng.choice(outer) if villages_only else _weighted(rng, self.default_districts["individual_business"])
        rep = self.representative(district, operator=True)
        shop = rng.choice(shops)
        prefix = self.local_prefix(district).removeprefix("长沙市") if rng.random() < 0.6 else self.local_prefix(district)
        name = self.unique_name(lambda: prefix + rng.choices(
            (self.trade(), rng.choice(data.SHOP_NAMES), rep[1], "老" + rep[1][0]), (35, 35, 20, 10))[0] + shop)
        if villages_only:
            address = self.village_address(district)
        else:
            address = f"{self.street_address(district)}{rng.choice(('门面', '1楼门面', f'{rng.randint(101, 112)}号门面'))}"
        employees = rng.choices(range(1, 9), (30, 28, 18, 10, 6, 4, 2, 2))[0]
        return {"industry_code": code, "industry_name": industry, "name": name, "division_code": district,
                "address": address, "employees": employees,
                "registered_capital_yuan": rng.choice((1, 2, 3, 5, 10, 20, 30, 50)) * _WAN,
                "exporter": rng.random() < 0.003, "representative": rep}

    def cooperative(self) -> dict[str, Any]:
        rng = self.rng
        district = _weighted(rng, data.COOPERATIVE_DISTRICTS)
        code, industry, products = rng.choice(data.COOPERATIVE_PRODUCTS[district])
        prefix = self.local_prefix(district)
        town = rng.choice(data.TOWNS[district])
        name = self.unique_name(lambda: prefix + (town if rng.random() < 0.6 else "")
                                + rng.choice((self.trade(), rng.choice(data.VILLAGES))) + rng.choice(products) + "专业合作社")
        return {"industry_code": code, "industry_name": industry, "name": name, "division_code": district,
                "address": self.village_address(district, town), "employees": rng.randint(5, 40),
                "registered_capital_yuan": rng.choice((10, 20, 50, 100, 200, 300, 500)) * _WAN,
                "exporter": rng.random() < 0.01}

    def social_organisation(self) -> dict[str, Any]:
        rng = self.rng
        district = _weighted(rng, self.default_districts["social_organisation"])
        city_level = rng.random() < 0.5
        where = "长沙市" if city_level else self.local_prefix(district)
        if rng.random() < 0.6:  # 社会团体
            entity_type, code, industry = "1", "S95", "群众团体、社会团体和其他成员组织"
            name = self.unique_name(lambda: rng.choice((
                f"{where}{rng.choice(data.ASSOCIATION_TOPICS)}协会", f"长沙市{rng.choice(data.HOMETOWN_CHAMBERS)}商会",
                f"{where}{rng.choice(data.ASSOCIATION_TOPICS)}{rng.choice(('学会', '研究会', '促进会'))}",
                f"{self.local_prefix(district)}{self.subdistrict(district)}{rng.choice(('商会', '志愿者协会'))}")))
            city_level = city_level or "商会" in name
        else:  # 民办非企业单位
            entity_type = "2"
            code, industry, kinds = rng.choice(data.PRIVATE_NONPROFITS)
            name = self.unique_name(lambda: f"{where}{self.trade()}{rng.choice(kinds)}")
        return {"industry_code": code, "industry_name": industry, "name": name, "division_code": district,
                "address": f"{self.street_address(district)}{rng.randint(1, 20)}栋{rng.randint(101, 2208)}室",
                "employees": rng.randint(2, 30), "registered_capital_yuan": rng.choice((3, 5, 10, 20, 30, 50, 100)) * _WAN,
                "exporter": False, "entity_type_code": entity_type, "registered_at_city": city_level}

    def public_institution(self) -> dict[str, Any]:
        rng = self.rng
        district = _weighted(rng, self.default_districts["public_institution"])
        local = self.local_prefix(district)
        chosen = data.PUBLIC_INSTITUTIONS[0]

        def make() -> str:
            nonlocal chosen
            chosen = _weighted(rng, [(t, t[2]) for t in data.PUBLIC_INSTITUTIONS])
            template = chosen[3]
            fields = data.RESEARCH_FIELDS if template.startswith("长沙市") else data.ESTATE_PLACES[district]
            return str(template).format(d=local, n=rng.randint(1, 40), t=self.subdistrict(district), p=rng.choice(fields))

        name = self.unique_name(make)
        large = "医院" in name or "中学" in name
        return {"industry_code": chosen[0], "industry_name": chosen[1], "name": name, "division_code": district,
                "address": self.street_address(district), "employees": rng.randint(200, 2500) if large else rng.randint(8, 150),
                "registered_capital_yuan": rng.choice((10, 50, 100, 200, 500, 1000, 5000)) * _WAN, "exporter": False,
                "registered_at_city": not name.startswith(local)}

    def entity(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        row = getattr(self, kind)()
        established = self.established(kind)
        division = "430100" if row.pop("registered_at_city", False) else row["division_code"]
        _share, authority, entity_type = KINDS[kind]
        if kind == "social_organisation":
            entity_type = row.pop("entity_type_code")
        inactive = rng.choices(("active", "cancelled", "revoked", "suspended"), (92, 4, 2.5, 1.5))[0]
        status = "active" if (AS_OF - established).days < 180 or kind == "public_institution" else inactive
        if status == "revoked":
            rating = "D"
        elif kind == "public_institution":
            rating = rng.choices("AB", (65, 35))[0]
        elif (AS_OF - established).days < 365:
            rating = rng.choices("MB", (45, 55))[0]  # new taxpayers are rated M
        else:
            rating = rng.choices("ABMCD", (38, 41, 8, 9, 1))[0]
        rep = row.pop("representative", None) or self.representative(row["division_code"], operator=False)
        if kind == "individual_business" and established >= date(2022, 11, 1):
            row["name"] += "（个体工商户）"  # required in new names since the 2022 regulation
        code = self.credit_code(authority, entity_type, division, established)
        return {**row, "credit_code": code, "entity_type": kind, "established_date": established, "status": status,
                "legal_representative_id_number": rep[0], "legal_representative_name": rep[1],
                "revenue_band": revenue_band(row["industry_code"], row["employees"]), "tax_credit_rating": rating,
                "high_tech": row.get("high_tech", False) and status == "active", "rd_spend_yuan": row.get("rd_spend_yuan", 0)}


def generate_legal_entities(rng: random.Random, scale: str, adults: Sequence[Adult]) -> list[dict[str, Any]]:
    """Registry rows for ``ENTITIES[scale]`` entities, with adults from the population as representatives."""
    factory = _EntityFactory(rng, adults)
    counts = data.apportion(ENTITIES[scale], [share for share, _a, _t in KINDS.values()])
    kinds = [kind for kind, count in zip(KINDS, counts, strict=True) for _ in range(count)]
    rng.shuffle(kinds)
    return [factory.entity(kind) for kind in kinds]

