"""The demo population and legal-entity registers: valid identifiers, plausible distributions, determinism.

python-stdnum is the independent oracle for ID numbers (it also checks that the address code existed
in the birth year) and credit codes; the GB 11714 organisation-code check, which stdnum skips, is
recomputed here from the standard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

from xingcheng.core.db import Base, create_db_engine
from xingcheng.core.identity.demo import create_staff_accounts, load_departments, load_divisions
from xingcheng.core.identity.models import Account  # also registers the identity tables
from xingcheng.core.registry import DemoContext
from xingcheng.core.security import verify_password
from xingcheng.datahub.registries.demo import DEMO_STEPS
from xingcheng.datahub.registries.demo_data import AS_OF
from xingcheng.datahub.registries.models import LegalEntity, Person  # also registers the registry tables

CENSUS_10K = {"430102": 63, "430103": 77, "430104": 154, "430105": 81, "430111": 141,
              "430112": 92, "430121": 137, "430181": 143, "430182": 126}
# Address codes of Changsha's divisions, including those in force before 1983, 1993, 2011 and 2017
CHANGSHA_CODES = {"430102", "430103", "430104", "430105", "430111", "430112", "430120", "430121", "430122",
                  "430123", "430124", "430181", "430182", "432124", "432324"}
CHANGSHA_PREFIXES = ("湖南省长沙市", "湖南省长沙县", "湖南省浏阳市", "湖南省宁乡市")
# GB 32100 authority + entity-type characters for each entity type
TYPE_PREFIXES = {"company": {"91"}, "individual_business": {"92"}, "cooperative": {"93"},
                 "social_organisation": {"51", "52"}, "public_institution": {"12"}}


@dataclass
class Build:
    engine: Engine
    ctx: DemoContext
    progress: list[tuple[str, int, int]] = field(default_factory=list)


def build(seed: int) -> Build:
    engine = create_db_engine("sqlite://")
    Base.metadata.create_all(engine)
    progress: list[tuple[str, int, int]] = []
    ctx = DemoContext(seed=seed, scale="small", progress=lambda label, done, total: progress.append((label, done, total)))
    with Session(engine) as session:
        for step in (load_divisions, load_departments, create_staff_accounts):
            step(session, ctx)
        for demo_step in DEMO_STEPS:
            demo_step.run(session, ctx)
        session.commit()
    return Build(engine, ctx, progress)


def dump(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        persons = [tuple(r) for r in session.execute(select(*Person.__table__.c).order_by(Person.id))]
        entities = [tuple(r) for r in session.execute(select(*LegalEntity.__table__.c).order_by(LegalEntity.id))]
        accounts = session.execute(select(Account.username, Account.id_number, Account.credit_code).order_by(Account.id))
        return persons + entities + [tuple(r) for r in accounts]


@pytest.fixture(scope="module")
def city() -> Iterator[Build]:
    built = build(42)
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def session(city: Build) -> Iterator[Session]:
    with Session(city.engine) as s:
        yield s


@pytest.fixture(scope="module")
def persons(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).order_by(Person.id)))


@pytest.fixture(scope="module")
def entities(session: Session) -> list[LegalEntity]:
    return list(session.scalars(select(LegalEntity).order_by(LegalEntity.id)))


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age(birth: date) -> int:
    return age_on(birth, AS_OF)


def gb11714_check(body: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    return {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


# ---- persons -----------------------------------------------------------------------------

def test_sizes_for_the_small_scale(persons: list[Person], entities: list[LegalEntity]) -> None:
    assert len(persons) == 2000
    assert len(entities) == 300


def test_every_id_number_is_valid_and_matches_birth_date_and_gender(persons: list[Person]) -> None:
    for p in persons:
        assert ric.is_valid(p.id_number), p.id_number
        assert ric.get_birth_date(p.id_number) == p.birth_date, p.id_number
        assert ("M" if int(p.id_number[16]) % 2 else "F") == p.gender, p.id_number


def test_identifiers_are_unique(persons: list[Person]) -> None:
    assert len({p.id_number for p in persons}) == len(persons)
    phones = [p.phone for p in persons if p.phone]
    assert len(set(phones)) == len(phones)
    assert all(len(phone) == 11 and phone[0] == "1" and phone[1] in "3456789" for phone in phones)


def test_most_people_were_born_in_their_district(persons: list[Person]) -> None:
    changsha_born = sum(p.id_number[:6] in CHANGSHA_CODES for p in persons)
    assert 0.65 < changsha_born / len(persons) < 0.9  # about a fifth are migrants
    assert len({p.id_number[:2] for p in persons}) >= 3  # some from other provinces


def test_district_shares_follow_the_census(persons: list[Person]) -> None:
    counts = Counter(p.division_code for p in persons)
    total = sum(CENSUS_10K.values())
    for code, population in CENSUS_10K.items():
        assert counts[code] / len(persons) == pytest.approx(population / total, abs=0.01), code
    assert counts["430104"] > counts["430102"]  # 岳麓区 is more than twice 芙蓉区


def test_age_and_gender_structure_is_plausible(persons: list[Person]) -> None:
    ages = [age(p.birth_date) for p in persons]
    over_60 = sum(a >= 60 for a in ages) / len(ages)
    under_15 = sum(a < 15 for a in ages) / len(ages)
    assert 0.10 < over_60 < 0.30
    assert 0.10 < under_15 < 0.25
    assert 0.48 < sum(p.gender == "M" for p in persons) / len(persons) < 0.55
    assert sum(p.ethnicity == "汉族" for p in persons) / len(persons) > 0.9


def test_retirement_is_consistent(persons: list[Person]) -> None:
    retired = [p for p in persons if p.retired]
    assert retired
    for p in persons:
        assert p.retired == (p.employment_status == "retired")
        if not p.retired:
            assert p.retired_date is None
            continue
        assert p.retired_date is not None and p.retired_date <= AS_OF
        earliest, latest = (60, 63) if p.gender == "M" else (50, 58)  # with the delays phased in since 2025
        assert earliest <= age_on(p.birth_date, p.retired_date) <= latest, p.id_number
        # retirement falls on the birthday (or the month's last day when the birthday is the 29th–31st)
        assert p.retired_date.day == p.birth_date.day or p.birth_date.day > 28, p.id_number
        if p.birth_date.year < (1965 if p.gender == "M" else 1970):  # untouched by the 2025 reform
            assert age_on(p.birth_date, p.retired_date) in ((60,) if p.gender == "M" else (50, 55)), p.id_number
            assert (p.retired_date.month, p.retired_date.day) == (p.birth_date.month, p.birth_date.day) \
                or p.birth_date.day > 28, p.id_number


def test_attributes_fit_the_age(persons: list[Person]) -> None:
    for p in persons:
        years = age(p.birth_date)
        if years < 16:
            assert p.employment_status == "child"
            assert p.social_insurance_months == 0 and p.housing_fund_status == "none"
        if years < 12:
            assert p.phone is None
        if years < 20:
            assert p.marital_status == "unmarried"
        if years < 6:
            assert p.education == "none"
        assert p.social_insurance_months <= max(0, years - 15) * 12
        assert (p.housing_fund_balance_cents > 0) == (p.housing_fund_status in ("active", "sealed"))


def test_households_share_an_address(persons: list[Person]) -> None:
    households: dict[str, list[Person]] = {}
    for p in persons:
        households.setdefault(p.household_id, []).append(p)
    sizes = Counter(len(members) for members in households.values())
    assert set(sizes) <= {1, 2, 3, 4, 5} and sizes[3] > 0 and sizes[4] > 0
    assert 2.0 < len(persons) / len(households) < 3.0
    for household_id, members in households.items():
        assert 9 <= len(household_id) <= 12 and household_id.isdigit()
        assert len({m.household_address for m in members}) == 1
        assert any(age(m.birth_date) >= 18 for m in members), household_id  # no child lives alone
    differs = sum(p.residence_address != p.household_address for p in persons) / len(persons)
    assert 0.15 < differs < 0.4


def test_floating_population_holds_residence_permits(persons: list[Person]) -> None:
    floating = [p for p in persons if p.residence_permit_status != "not_needed"]
    assert 0.05 < len(floating) / len(persons) < 0.25
    for p in floating:
        assert not p.household_address.startswith(CHANGSHA_PREFIXES)
        assert p.residence_address.startswith(CHANGSHA_PREFIXES)
    assert all(p.household_address.startswith(CHANGSHA_PREFIXES) for p in persons if p.residence_permit_status == "not_needed")


def test_welfare_shares_are_small(persons: list[Person]) -> None:
    status = Counter(p.low_income_status for p in persons)
    assert 0.003 < status["dibao"] / len(persons) < 0.04
    disabled = [p for p in persons if p.disability_grade is not None]
    assert 0.03 < len(disabled) / len(persons) < 0.1
    assert {p.disability_grade for p in disabled} <= {1, 2, 3, 4}


# ---- legal entities ----------------------------------------------------------------------

def test_every_credit_code_is_valid_and_matches_the_entity(entities: list[LegalEntity]) -> None:
    for e in entities:
        code = e.credit_code
        assert uscc.is_valid(code), code
        assert code[16] == gb11714_check(code[8:16]), code
        assert code[:2] in TYPE_PREFIXES[e.entity_type], (code, e.entity_type)
        assert code[2:8] in (e.division_code, "430100"), code
    assert len({e.credit_code for e in entities}) == len(entities)
    assert len({e.name for e in entities}) == len(entities)


def test_entity_mix_is_like_a_real_register(entities: list[LegalEntity]) -> None:
    kinds = Counter(e.entity_type for e in entities)
    assert kinds["individual_business"] > kinds["company"] > kinds["cooperative"] > 0
    assert 0.85 < sum(e.status == "active" for e in entities) / len(entities) < 0.97
    ratings = Counter(e.tax_credit_rating for e in entities)
    assert set(ratings) <= set("ABMCD") and ratings["B"] > ratings["C"]
    assert all(e.industry_code[0].isalpha() and e.industry_name for e in entities)
    assert all(e.division_code == "430181" for e in entities if e.industry_code == "C26")  # fireworks: 浏阳


def test_revenue_band_follows_employees(entities: list[LegalEntity]) -> None:
    order = ["micro", "small", "medium", "large"]
    for industry in {e.industry_code for e in entities}:
        ranked = sorted((e.employees, order.index(e.revenue_band)) for e in entities if e.industry_code == industry)
        bands = [band for _employees, band in ranked]
        assert bands == sorted(bands), industry  # more employees never means a smaller band
    assert all(e.revenue_band == "micro" for e in entities if e.employees < 5)


def test_representatives_are_adults_from_the_population(session: Session, entities: list[LegalEntity]) -> None:
    people = {p.id_number: p for p in session.scalars(select(Person))}
    for e in entities:
        person = people[e.legal_representative_id_number or ""]
        assert person.name == e.legal_representative_name
        assert age(person.birth_date) >= 18


# ---- demo accounts -----------------------------------------------------------------------

def test_citizen_and_enterprise_accounts_are_linked(session: Session) -> None:
    citizen = session.scalar(select(Account).where(Account.username == "citizen"))
    enterprise = session.scalar(select(Account).where(Account.username == "enterprise"))
    assert citizen is not None and enterprise is not None
    assert (citizen.kind, citizen.roles) == ("citizen", ["citizen"])
    assert (enterprise.kind, enterprise.roles) == ("enterprise", ["enterprise"])
    assert verify_password(citizen.password_hash, "Citizen@2026")
    assert verify_password(enterprise.password_hash, "Enterprise@2026")
    person = session.scalar(select(Person).where(Person.id_number == citizen.id_number))
    assert person is not None and person.name == citizen.display_name and age(person.birth_date) >= 18
    company = session.scalar(select(LegalEntity).where(LegalEntity.credit_code == enterprise.credit_code))
    assert company is not None
    assert (company.entity_type, company.status) == ("company", "active")
    assert company.legal_representative_id_number == person.id_number
    assert company.legal_representative_name == person.name


# ---- the build as a whole ----------------------------------------------------------------

def test_progress_is_reported_per_chunk(city: Build) -> None:
    labels = {label: (done, total) for label, done, total in city.progress}
    assert labels["persons"] == (2000, 2000)
    assert labels["legal entities"] == (300, 300)


def test_same_seed_same_city_other_seed_other_city(city: Build) -> None:
    first = dump(city.engine)
    again, other = build(42), build(43)
    try:
        assert dump(again.engine) == first
        assert dump(other.engine) != first
        assert dump(other.engine)[0][1] != first[0][1]  # even the first person differs
    finally:
        again.engine.dispose()
        other.engine.dispose()
