"""The synthetic Changsha population: residents by census weights, grouped into households, with coherent attributes.

A person's ``division_code`` is the district of household registration; for the floating population
(户籍在外, holding a residence permit) it is the district of the permit and ``household_address`` is the
home address. ID numbers carry the address code in force in the birth year (e.g. 430124 宁乡县 before
2017, 430120 for the urban districts before 1983), as the numbers of real residents do.
"""

from __future__ import annotations

import random
from bisect import bisect
from calendar import monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, Literal

from faker import Faker

from xingcheng.core.ids import make_id_number
from xingcheng.datahub.registries import demo_data as data

AS_OF = data.AS_OF
HEAD, SPOUSE, CHILD, ELDER = "head", "spouse", "child", "elder"
Origin = tuple[int, str, tuple[str, ...], tuple[data.Era, ...]]
_EDU_RANK = {level: rank for rank, level in enumerate(data.EDUCATION_LEVELS)}
_COHORT_STARTS = [c[0] for c in data.EDUCATION_BY_COHORT]
_SALARY = {"none": 3200, "primary": 3500, "junior_secondary": 4200, "senior_secondary": 5000, "vocational": 5200,
           "junior_college": 6000, "bachelor": 8000, "master": 11000, "doctorate": 14000}
_MINORITIES = [e for e, _ in data.ETHNICITIES[1:]]
_MINORITY_CUM = list(accumulate(w for _, w in data.ETHNICITIES[1:]))
_HAN_SHARE = data.ETHNICITIES[0][1] / sum(w for _, w in data.ETHNICITIES)


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def age_on(birth: date, day: date = AS_OF) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def era_code(eras: Sequence[data.Era], year: int) -> str | None:
    """The address code in force in ``year``, or None when the place had none then."""
    for code, first, last in eras:
        if (first is None or year >= first) and (last is None or year <= last):
            return code
    return None


def retirement_date(birth: date, gender: str, *, cadre: bool) -> date:
    """Statutory retirement date with the gradual delay in force since 2025 (men 60→63, women 50→55 / 55→58)."""
    base, start, step, cap = (60, 1965, 4, 36) if gender == "M" else (55, 1970, 4, 36) if cadre else (50, 1975, 2, 60)
    months_after = (birth.year - start) * 12 + birth.month - 1
    delay = 0 if months_after < 0 else min(cap, months_after // step + 1)
    return add_months(birth, base * 12 + delay)


def _n(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high] (``randint`` is slow in hot loops)."""
    return low + int(rng.random() * (high - low + 1))


def changsha_address(rng: random.Random, district: str, *, village: bool = False) -> str:
    prefix = data.DISTRICTS[district][2]
    if village and district in data.TOWNS:
        return f"{prefix}{rng.choice(data.TOWNS[district])}{rng.choice(data.VILLAGES)}村{_n(rng, 1, 18)}组{_n(rng, 1, 120)}号"
    place = rng.choice(data.ESTATE_PLACES[district]) if rng.random() < 0.7 else rng.choice(data.ESTATE_WORDS)
    return (f"{prefix}{rng.choice(data.STREETS[district])}{_n(rng, 1, 999)}号{place}{rng.choice(data.ESTATE_SUFFIXES)}"
            f"{_n(rng, 1, 30)}栋{_n(rng, 1, 4)}单元{_n(rng, 1, 33)}{_n(rng, 1, 4):02d}室")


# ---- people before they have names: ages, households -------------------------------------

@dataclass(slots=True)
class _Draft:
    birth: date
    age: int
    gender: Literal["M", "F"]
    marital: str


def _draft_people(rng: random.Random, count: int) -> list[_Draft]:
    cumulative = list(accumulate(band[2] for band in data.AGE_BANDS))
    people = []
    for _ in range(count):
        low, high, _share, male = data.AGE_BANDS[bisect(cumulative, rng.random() * cumulative[-1])]
        birth = AS_OF - timedelta(days=rng.randrange(low * 365 + 1, (high + 1) * 365 + 1))
        gender: Literal["M", "F"] = "M" if rng.random() < male else "F"
        age = age_on(birth)
        rows = data.MARITAL[gender]
        _from, *weights = rows[bisect([r[0] for r in rows], age) - 1]
        marital = rng.choices(("unmarried", "married", "divorced", "widowed"), weights)[0]
        people.append(_Draft(birth, age, gender, marital))
    return people


def _find_unit(rng: random.Random, by_age: dict[int, list[int]], fits: Callable[[int], bool],
               low: int, high: int, target: int) -> int | None:
    """A household whose reference adult is aged ``low``–``high`` (nearest ``target`` first) and ``fits``."""
    for offset in range(max(high - target, target - low) + 1):
        for age in (target + offset, target - offset) if offset else (target,):
            candidates = by_age.get(age) if low <= age <= high else None
            while candidates:
                pick = rng.randrange(len(candidates))
                if fits(candidates[pick]):
                    return candidates[pick]
                candidates[pick] = candidates[-1]  # never fits again: drop it
                candidates.pop()
    return None


def _households(rng: random.Random, people: list[_Draft]) -> list[list[tuple[int, str]]]:
    """Couples with their children (grown-up ones too), lone parents, singles, and three generations."""
    units: list[list[tuple[int, str]]] = []
    ref_age: list[int] = []  # the wife's or lone adult's age: children are matched against it

    def index() -> dict[int, list[int]]:
        by_age: dict[int, list[int]] = {}
        for u, age in enumerate(ref_age):
            by_age.setdefault(age, []).append(u)
        return by_age

    married = [i for i, p in enumerate(people) if p.marital == "married"]
    husbands = sorted((people[i].age + rng.gauss(0, 2.5), i) for i in married if people[i].gender == "M")
    wives = sorted((people[i].age + 2 + rng.gauss(0, 2.5), i) for i in married if people[i].gender == "F")
    few, many = (husbands, wives) if len(husbands) <= len(wives) else (wives, husbands)
    paired = [False] * len(many)
    for k, (_key, i) in enumerate(few):
        slot = int((k + 0.5) * len(many) / len(few))  # leftovers spread over all ages
        paired[slot] = True
        husband, wife = (i, many[slot][1]) if people[i].gender == "M" else (many[slot][1], i)
        units.append([(husband, HEAD), (wife, SPOUSE)])
        ref_age.append(people[wife].age)
    singles = [j for slot, (_key, j) in enumerate(many) if not paired[slot]]  # spouse away
    joiners, elders = [], []
    for i, p in enumerate(people):
        if p.marital == "married":
            continue
        if p.age < 18 or (p.marital == "unmarried" and p.age < 35 and rng.random() < 0.65):
            joiners.append(i)
        elif p.marital == "widowed" and p.age >= 65 and rng.random() < 0.55:
            elders.append(i)
        else:
            singles.append(i)
    for i in singles:
        units.append([(i, HEAD)])
        ref_age.append(people[i].age)
    children = [0] * len(units)
    by_age = index()
    for i in joiners:
        age = people[i].age
        found = _find_unit(rng, by_age, lambda u: len(units[u]) < 5 and children[u] < 3,
                           age + 19, age + 60, age + _n(rng, 24, 33))
        if found is None:
            units.append([(i, HEAD)])
            ref_age.append(age)
            children.append(0)
        else:
            units[found].append((i, CHILD))
            children[found] += 1
    by_age = index()
    for c in range(len(units)):  # some older couples live with a grown-up child's family
        if len(units[c]) == 2 and units[c][1][1] == SPOUSE and ref_age[c] >= 62 and rng.random() < 0.3:
            def takes_parents(u: int, c: int = c) -> bool:
                return 1 <= len(units[u]) <= 3 and u != c and units[u][0][1] == HEAD

            found = _find_unit(rng, by_age, takes_parents, ref_age[c] - 40, ref_age[c] - 22, ref_age[c] - _n(rng, 25, 32))
            if found is not None:
                units[found].extend((i, ELDER) for i, _role in units[c])
                units[c] = []
    for i in elders:
        age = people[i].age
        found = _find_unit(rng, by_age, lambda u: 1 <= len(units[u]) < 5, age - 40, age - 20, age - _n(rng, 25, 35))
        if found is None:
            units.append([(i, HEAD)])
            ref_age.append(age)
        else:
            units[found].append((i, ELDER))
    return [unit for unit in units if unit]


# ---- one person's attributes -------------------------------------------------------------

class _Names:
    """Surname and given-name pools drawn from Faker once, mixed with Hunan surnames and cohort names."""

    def __init__(self, rng: random.Random) -> None:
        fake = Faker("zh_CN")
        fake.seed_instance(rng.getrandbits(64))
        self.rng = rng
        self.surnames = [fake.last_name() for _ in range(3000)]
        self.given = {"M": [fake.first_name_male() for _ in range(1000)],
                      "F": [fake.first_name_female() for _ in range(1000)]}
        self.hunan = [s for s, w in data.HUNAN_SURNAMES for _ in range(w)]
        self.cohort_years = [c[0] for c in data.COHORT_GIVEN_NAMES]

    def surname(self) -> str:
        return self.rng.choice(self.hunan if self.rng.random() < 0.5 else self.surnames)

    def given_name(self, gender: str, birth_year: int) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(self.given[gender])
        cohort = data.COHORT_GIVEN_NAMES[bisect(self.cohort_years, birth_year) - 1]
        return self.rng.choice(cohort[1] if gender == "M" else cohort[2])


def _education(rng: random.Random, p: _Draft, village: bool) -> str:
    if p.age < 15:
        return "none" if p.age < 6 else "primary" if p.age < 12 else "junior_secondary"
    if p.age < 18:
        return rng.choices(("junior_secondary", "senior_secondary", "vocational"), (10, 60, 30))[0]
    if p.age < 23:  # students count at the level they are studying
        return rng.choices(("junior_secondary", "senior_secondary", "vocational", "junior_college", "bachelor"),
                           (12, 10, 12, 26, 40))[0]
    cohort = data.EDUCATION_BY_COHORT[bisect(_COHORT_STARTS, p.birth.year) - 1][1]
    level = rng.choices(data.EDUCATION_LEVELS, cohort)[0]
    if village and _EDU_RANK[level] >= _EDU_RANK["junior_college"] and rng.random() < 0.5:
        level = rng.choices(data.EDUCATION_LEVELS, cohort)[0]  # fewer graduates stay in the villages
    return level


def _work(rng: random.Random, p: _Draft, education: str, village: bool) -> dict[str, Any]:
    """Employment, retirement, social insurance and housing fund, consistent with age and education."""
    cadre = p.gender == "M" or _EDU_RANK[education] >= _EDU_RANK["junior_college"] or rng.random() < 0.3
    retire_on = retirement_date(p.birth, p.gender, cadre=cadre)
    if p.age < 16:
        status = "child"
    elif retire_on <= AS_OF:
        status = "self_employed" if village and p.age < 70 and rng.random() < 0.15 else "retired"  # farmers farm on
    elif (p.age <= 18 and rng.random() < 0.88) or (p.age <= 22 and education in ("junior_college", "bachelor")) \
            or (p.age <= 26 and education in ("master", "doctorate") and rng.random() < 0.6):
        status = "student"
    elif village:
        status = rng.choices(("employed", "self_employed", "unemployed"), (45, 35, 20))[0]
    else:
        status = rng.choices(("employed", "self_employed", "unemployed"), (72, 12, 20 if p.gender == "F" else 14))[0]
    retired = status == "retired"
    start = add_months(p.birth, 12 * data.WORK_START_AGE[education])
    end = retire_on if retired else AS_OF
    months = max(0, (end.year - start.year) * 12 + end.month - start.month)
    low, high = {"employed": (0.4, 0.9) if village else (0.75, 1.0), "self_employed": (0.2, 0.8),
                 "unemployed": (0.0, 0.6), "retired": (0.3, 0.8) if village else (0.7, 1.0)}.get(status, (0.0, 0.0))
    insured = int(months * rng.uniform(low, high))
    if retired and not village:
        insured = max(insured, min(months, 180))  # 15 years qualify for the employees' pension
    fund = "none"
    if status == "employed":
        rank = _EDU_RANK[education]
        chance = 0.9 if rank >= 6 else 0.75 if rank == 5 else 0.55 if rank >= 3 else 0.3
        fund = "active" if rng.random() < chance * (0.5 if village else 1.0) else "none"
    elif status == "self_employed":
        fund = "active" if rng.random() < 0.08 else "none"
    elif status == "unemployed" and insured > 12:
        fund = "sealed" if rng.random() < 0.3 else "none"
    elif retired and rng.random() < (0.12 if village else 0.45):
        fund = "sealed" if rng.random() < 0.7 else "closed"  # sealed at retirement unless withdrawn
    balance = 0
    if fund in ("active", "sealed"):
        monthly = _SALARY[education] * rng.lognormvariate(0, 0.35) * rng.choice((0.05, 0.08, 0.10, 0.12)) * 2
        balance = round(monthly * rng.uniform(3, max(4, min(insured, 120))) * 100)
    return {"employment_status": status, "retired": retired, "retired_date": retire_on if retired else None,
            "social_insurance_months": insured, "housing_fund_status": fund, "housing_fund_balance_cents": balance}


def _ethnicity(rng: random.Random, place: str) -> str:
    if "湘西" in place or "张家界" in place:
        return rng.choices(("汉族", "土家族", "苗族"), (35, 40, 25))[0]
    if rng.random() < _HAN_SHARE:
        return "汉族"
    return rng.choices(_MINORITIES, cum_weights=_MINORITY_CUM)[0]


class PersonFactory:
    """Turns households of drafts into registry rows; ID numbers, phones and household numbers stay unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names = _Names(rng)
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.households: set[str] = set()
        hunan, other = sum(o[0] for o in data.ORIGINS_HUNAN), sum(o[0] for o in data.ORIGINS_OTHER)
        self.origins = [*data.ORIGINS_HUNAN, *data.ORIGINS_OTHER]
        self.origin_cum = list(accumulate([60 * o[0] / hunan for o in data.ORIGINS_HUNAN]
                                          + [40 * o[0] / other for o in data.ORIGINS_OTHER]))

    def origin(self, years: Sequence[int]) -> Origin:
        """A home place that had an address code in every one of ``years``."""
        for _ in range(20):
            origin = self.rng.choices(self.origins, cum_weights=self.origin_cum)[0]
            if all(era_code(origin[3], y) for y in years):
                return origin
        return data.ORIGINS_HUNAN[0]

    def unique(self, pool: set[str], make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in pool:
                pool.add(value)
                return value

    def id_number(self, eras: Sequence[data.Era], birth: date, gender: Literal["M", "F"]) -> str:
        code = era_code(eras, birth.year)
        assert code is not None, f"no address code for {birth.year}"
        return self.unique(self.ids, lambda: make_id_number(code, birth, self.rng.randrange(500), gender))

    def phone(self, age: int) -> str | None:
        chance = 0.0 if age < 12 else 0.5 if age < 16 else 0.6 if age >= 85 else 0.98
        if self.rng.random() >= chance:
            return None
        return self.unique(self.phones, lambda: self.rng.choice(data.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}")

    def _birthplace(self, kind: str, role: str, p: _Draft, district: str, origin: Origin | None,
                    head_origin: Origin | None) -> tuple[Sequence[data.Era], str]:
        """Address-code eras and place name of where this member was first registered."""
        rng = self.rng
        if kind == "floating" and origin:
            return origin[3], origin[1]
        if kind == "moved" and not (role == CHILD and p.age < 15):  # young children were born here
            if head_origin and era_code(head_origin[3], p.birth.year) and (role != SPOUSE or rng.random() < 0.5):
                return head_origin[3], head_origin[1]
            own = self.origin([p.birth.year])
            return own[3], own[1]
        if p.age >= 18 and role != CHILD and rng.random() < 0.08:  # moved within the city
            other = rng.choice([d for d in data.DISTRICTS if d != district])
            return data.DISTRICT_ERAS[other], data.DISTRICTS[other][2]
        return data.DISTRICT_ERAS[district], data.DISTRICTS[district][2]

    def household(self, district: str, people: list[_Draft], members: list[tuple[int, str]]) -> list[dict[str, Any]]:
        rng = self.rng
        head = people[members[0][0]]
        village = rng.random() < data.DISTRICTS[district][3]
        draw, young = rng.random(), 20 <= head.age <= 55
        kind = "floating" if draw < (0.16 if young else 0.05) else "moved" if draw < (0.26 if young else 0.13) else "local"
        origin = self.origin([people[i].birth.year for i, _ in members]) if kind == "floating" else None
        if origin:
            household_id = self.unique(self.households, lambda: str(rng.randrange(10**11, 10**12)))
            home = (f"{origin[1]}{rng.choice(origin[2])}{rng.choice(data.VILLAGES)}村{_n(rng, 1, 15)}组{_n(rng, 1, 99)}号"
                    if origin[2] else
                    f"{origin[1]}{rng.choice(data.GENERIC_ROADS)}{_n(rng, 1, 400)}号{_n(rng, 1, 20)}栋{_n(rng, 101, 1802)}室")
            residence = changsha_address(rng, district, village=village)
        else:
            household_id = self.unique(self.households, lambda: str(rng.randrange(10**8, 10**9)))
            home = changsha_address(rng, district, village=village)
            residence = changsha_address(rng, district, village=village) if rng.random() < 0.13 else home
        head_origin = self.origin([head.birth.year]) if kind == "moved" else None
        family_surname = self.names.surname()
        parents_minority = None
        rows: list[dict[str, Any]] = []
        for i, role in members:
            p = people[i]
            eras, place = self._birthplace(kind, role, p, district, origin, head_origin)
            if role == CHILD:
                ethnicity = parents_minority or "汉族"
            else:
                ethnicity = _ethnicity(rng, place)
                if role in (HEAD, SPOUSE) and ethnicity != "汉族":
                    parents_minority = ethnicity
            keeps_name = role == HEAD or (role == CHILD and rng.random() < 0.92) or (role == ELDER and p.gender == "M")
            surname = family_surname if keeps_name else self.names.surname()
            education = _education(rng, p, village)
            moved_out = role == CHILD and p.age >= 18 and rng.random() < 0.3  # grown-up children often live elsewhere
            row: dict[str, Any] = {
                "id_number": self.id_number(eras, p.birth, p.gender),
                "name": surname + self.names.given_name(p.gender, p.birth.year),
                "gender": p.gender, "birth_date": p.birth, "ethnicity": ethnicity, "division_code": district,
                "household_address": home, "phone": self.phone(p.age), "marital_status": p.marital,
                "education": education, "household_id": household_id,
                "residence_address": changsha_address(rng, district) if moved_out else residence,
                "residence_permit_status": ("valid" if rng.random() < 0.8 else "expired") if origin else "not_needed",
                **_work(rng, p, education, village),
            }
            disabled = rng.random() < (0.015 if p.age < 18 else 0.05 if p.age < 60 else 0.12 if p.age < 80 else 0.2)
            row["disability_grade"] = rng.choices((1, 2, 3, 4), (12, 20, 23, 45))[0] if disabled else None
            row["low_income_status"] = self.low_income(row, p, alone=len(members) == 1, village=village)
            if row["low_income_status"] != "none" and row["housing_fund_status"] == "active":
                row["housing_fund_status"], row["housing_fund_balance_cents"] = "none", 0
            rows.append(row)
        return rows

    def low_income(self, row: dict[str, Any], p: _Draft, *, alone: bool, village: bool) -> str:
        grade = row["disability_grade"]
        lone_elder = p.age >= 60 and p.marital in ("unmarried", "widowed")
        if alone and (lone_elder or (grade in (1, 2) and p.age >= 16)) and self.rng.random() < 0.06:
            return "tekun"  # 特困: no one obliged or able to support them
        chance = 0.009 * (5 if grade else 1) * (2 if village else 1) * (3 if row["employment_status"] == "unemployed" else 1)
        return "dibao" if self.rng.random() < chance else "none"


def generate_persons(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """``count`` residents split over the districts by census population, household by household."""
    factory = PersonFactory(rng)
    districts = list(data.DISTRICTS)
    rows: list[dict[str, Any]] = []
    for district, n in zip(districts, data.apportion(count, [data.DISTRICTS[d][1] for d in districts]), strict=True):
        people = _draft_people(rng, n)
        for members in _households(rng, people):
            rows.extend(factory.household(district, people, members))
    return rows
