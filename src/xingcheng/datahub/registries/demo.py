"""Demo steps for the base registries: a synthetic Changsha population and market-entity register, from the seed.

Everything is drawn from ``ctx.rng(step)`` (Faker is seeded from it), so one seed and scale give
identical rows (byte-identical but for the encrypted columns, sealed with fresh nonces). Ages, retirements
and dates are taken on ``demo_data.AS_OF``; the generators live in ``demo_persons`` and ``demo_entities``,
the word lists in ``demo_data``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, Table, Text, column, insert, select, update
from sqlalchemy import table as sa_table
from sqlalchemy.orm import Session

from xingcheng.core.auth import Role
from xingcheng.core.crypto import EncryptedString, current_keyring
from xingcheng.core.identity import service as identity_service
from xingcheng.core.identity.schemas import AccountCreate
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.registries.demo_data import AS_OF
from xingcheng.datahub.registries.demo_entities import generate_legal_entities
from xingcheng.datahub.registries.demo_licences import load_addresses, load_licences
from xingcheng.datahub.registries.demo_persons import add_months, generate_persons
from xingcheng.datahub.registries.demo_sources import load_claims, load_grants, seed_field_owners
from xingcheng.datahub.registries.models import LegalEntity, Person

PERSONS = {"small": 2_000, "city": 120_000}
CHUNK = 5_000
# Fixed record timestamps, so that two builds from one seed are byte-identical.
RECORDED_AT = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)


def _insert(session: Session, ctx: DemoContext, model: type[Person] | type[LegalEntity], rows: list[dict[str, Any]],
            label: str) -> None:
    """Bulk insert in chunks, reporting progress after each.

    Through the Core table: the ORM's bulk path adds nothing here (no relationships, every column
    given) and takes twice as long. Encrypted columns are sealed here, a chunk at a time with one keyring
    look-up, and inserted as the text they now are: through the column type every value would look the
    keyring up again (a file check that costs more than the SM4-GCM sealing itself).
    """
    table = cast(Table, model.__table__)
    sealed = [c for c in table.columns if isinstance(c.type, EncryptedString)]
    names = {c.name for c in sealed}  # by name: ``column in list`` would build SQL comparisons
    as_stored = sa_table(table.name, *[column(c.name, Text() if c.name in names else c.type) for c in table.columns])
    for row in rows:
        row["created_at"] = row["updated_at"] = RECORDED_AT
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(as_stored), _seal(rows[start:start + CHUNK], sealed))
        ctx.progress(label, min(start + CHUNK, len(rows)), len(rows))


def _seal(rows: list[dict[str, Any]], columns: list[Column[Any]]) -> list[dict[str, Any]]:
    """``rows`` with the values of the encrypted ``columns`` sealed as ``EncryptedString`` would seal them."""
    if not columns:
        return rows
    keyring = current_keyring()
    bindings = [(c.name, cast(EncryptedString, c.type).aad or f"{c.table.name}.{c.name}") for c in columns]
    return [{**row, **{name: keyring.encrypt(str(row[name]), binding=binding)
                       for name, binding in bindings if row.get(name) is not None}} for row in rows]


def load_persons(session: Session, ctx: DemoContext) -> None:
    _insert(session, ctx, Person, generate_persons(ctx.rng("persons"), PERSONS[ctx.scale]), "persons")


def load_legal_entities(session: Session, ctx: DemoContext) -> None:
    adults = session.execute(  # aged 22–69: the pool of legal representatives and business operators
        select(Person.id_number, Person.name, Person.division_code, Person.employment_status)
        .where(Person.birth_date <= add_months(AS_OF, -22 * 12), Person.birth_date > add_months(AS_OF, -70 * 12))
        .order_by(Person.id)
    ).all()
    rows = generate_legal_entities(ctx.rng("legal_entities"), ctx.scale, [(a[0], a[1], a[2], a[3]) for a in adults])
    _insert(session, ctx, LegalEntity, rows, "legal entities")


def create_citizen_accounts(session: Session, ctx: DemoContext) -> None:
    """The documented demo logins: ``citizen`` (a resident) and ``enterprise`` (the company they represent)."""
    rng = ctx.rng("citizen_accounts")
    people = session.scalars(
        select(Person).where(
            Person.division_code == "430104", Person.employment_status == "employed", Person.phone.is_not(None),
            Person.residence_permit_status == "not_needed", Person.low_income_status == "none",
            Person.birth_date.between(add_months(AS_OF, -45 * 12), add_months(AS_OF, -30 * 12)),
        ).order_by(Person.id)
    ).all() or session.scalars(
        select(Person).where(Person.employment_status == "employed", Person.phone.is_not(None)).order_by(Person.id)
    ).all()
    person = rng.choice(people)
    companies = session.scalars(
        select(LegalEntity).where(LegalEntity.entity_type == "company", LegalEntity.status == "active",
                                  LegalEntity.industry_code == "I65", LegalEntity.tax_credit_rating.in_(("A", "B")))
        .order_by(LegalEntity.id)
    ).all() or session.scalars(
        select(LegalEntity).where(LegalEntity.entity_type == "company", LegalEntity.status == "active")
        .order_by(LegalEntity.id)
    ).all()
    company = rng.choice(companies)
    session.execute(  # an explicit updated_at keeps rebuilds byte-identical (onupdate would stamp the clock)
        update(LegalEntity).where(LegalEntity.id == company.id).values(
            legal_representative_id_number=person.id_number, legal_representative_name=person.name, updated_at=RECORDED_AT)
    )
    identity_service.create_account(session, data=AccountCreate(
        username="citizen", display_name=person.name, password="Citizen@2026", kind="citizen",
        roles=[Role.CITIZEN], id_number=person.id_number, phone=person.phone,
    ))
    identity_service.create_account(session, data=AccountCreate(
        username="enterprise", display_name=company.name[:64], password="Enterprise@2026", kind="enterprise",
        roles=[Role.ENTERPRISE], credit_code=company.credit_code, phone=person.phone,
    ))
    session.flush()
    ctx.facts["citizen_id_number"], ctx.facts["enterprise_credit_code"] = person.id_number, company.credit_code
    ctx.progress("citizen accounts", 2, 2)


DEMO_STEPS = [
    DemoStep("persons", load_persons, depends_on=("departments",),
             description="population register: 2,000 / 120,000 residents in households"),
    DemoStep("legal_entities", load_legal_entities, depends_on=("persons",),
             description="legal-entity register: 300 / 22,000 market entities and organisations"),
    DemoStep("citizen_accounts", create_citizen_accounts, depends_on=("persons", "legal_entities", "staff_accounts"),
             description="the citizen and enterprise demo logins"),
    DemoStep("licences", load_licences, depends_on=("persons", "legal_entities", "citizen_accounts", "departments"),
             description="e-licences: 营业执照, 身份证, 结婚证, 不动产权证书 … signed, for the demo persons and entities"),
    DemoStep("standard_addresses", load_addresses, depends_on=("persons", "legal_entities"),
             description="standard addresses with coordinates for every demo address"),
    DemoStep("field_owners", seed_field_owners, depends_on=("departments",),
             description="一数一源: the authoritative department of every registry field"),
    DemoStep("registry_claims", load_claims, depends_on=("field_owners", "persons", "legal_entities", "citizen_accounts"),
             description="多源校核: 240 / 12,000 claims by other departments, 8 % of them conflicting (labelled)"),
    DemoStep("registry_grants", load_grants, depends_on=("departments",),
             description="the registries' standing grants (行政审批服务局 for 政务服务办理, 数据资源局 for 数据治理)"),
]
