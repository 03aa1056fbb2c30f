"""Demo data defects with ground-truth labels, then the first quality reports.

Real registries carry errors; the demo injects a KNOWN fraction of them into the generated (clean)
registers and labels each one in ``quality_defect_label``, so the quality report's detection can be
measured (precision and recall per rule). Rates are of the register's records:

=======================  ======  =====================================================
rule                     rate    what is done
=======================  ======  =====================================================
invalid_id_number        1.5 %   the GB 11643 check digit is replaced by a wrong one
missing_phone            1.0 %   a working-age adult's phone is removed
invalid_phone            0.5 %   the phone loses digits or gets a non-mobile prefix
id_birth_mismatch        0.5 %   the birth date is moved by 1–400 days (ID unchanged)
duplicate_record         0.5 %   a second record of the person under a new, valid ID
stale_record             2.0 %   last update 3.5–9 years ago
invalid_credit_code      1.5 %   the GB 32100 check character is replaced
missing_…_name           1.0 %   the entity's legal representative name is blanked
=======================  ======  =====================================================

Before injecting, the step completes what the person generator leaves out on purpose (2 % of adults
without a phone), so that the labelled defects are the register's only defects. Records that other
demo steps rely on (the demo logins' person and company, legal representatives, claim subjects)
are never damaged.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from xingcheng.core.ids import CREDIT_CODE_ALPHABET, id_number_check_digit, make_id_number
from xingcheng.core.registry import DemoContext
from xingcheng.datahub.quality import service
from xingcheng.datahub.quality.models import DefectLabel
from xingcheng.datahub.registries.demo_data import AS_OF, MOBILE_PREFIXES
from xingcheng.datahub.registries.models import FieldClaim, LegalEntity, Person

INJECTOR = "demo:quality_defects"
PERSON_RATES = {"invalid_id_number": 0.015, "missing_phone": 0.01, "invalid_phone": 0.005,
                "id_birth_mismatch": 0.005, "duplicate_record": 0.005, "stale_record": 0.02}
ENTITY_RATES = {"invalid_credit_code": 0.015, "missing_legal_representative_name": 0.01, "stale_record": 0.02}
RECORDED_AT = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _protected(session: Session, ctx: DemoContext) -> set[str]:
    keys = {str(ctx.facts.get("citizen_id_number", "")), str(ctx.facts.get("enterprise_credit_code", ""))}
    keys |= set(session.scalars(select(LegalEntity.legal_representative_id_number).where(
        LegalEntity.legal_representative_id_number.is_not(None))).all())  # type: ignore[arg-type]
    keys |= set(session.scalars(select(FieldClaim.record_key)))
    return keys


def _complete_phones(session: Session, rng: random.Random) -> int:
    """Give a phone to every adult of 17–72 the generator left without one (it does for ~2 %)."""
    used = set(session.scalars(select(Person.phone).where(Person.phone.is_not(None))))
    missing = session.execute(select(Person.id, Person.birth_date).where(Person.phone.is_(None))).all()
    filled = 0
    for pid, birth in missing:
        if 17 <= _age(birth, AS_OF) <= 72:
            while True:
                phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
                if phone not in used:
                    break
            used.add(phone)
            session.execute(update(Person).where(Person.id == pid).values(phone=phone, updated_at=RECORDED_AT)
                            .execution_options(synchronize_session=False))
            filled += 1
    return filled


def _wrong_check(first17: str, actual: str, alphabet: str, rng: random.Random) -> str:
    return rng.choice([c for c in alphabet if c != actual])


def _inject_persons(session: Session, rng: random.Random, protected: set[str], labels: list[dict[str, Any]]) -> None:
    today = datetime.now(UTC).date()
    rows = session.execute(select(Person).order_by(Person.id)).scalars().all()
    candidates = [p for p in rows if p.id_number not in protected]
    rng.shuffle(candidates)
    total = len(rows)
    taken = 0

    def pick(rule: str, fits: Any = lambda _p: True) -> list[Person]:
        nonlocal taken
        wanted = max(1, round(total * PERSON_RATES[rule]))
        chosen: list[Person] = []
        while len(chosen) < wanted and taken < len(candidates):
            person = candidates[taken]
            taken += 1
            if fits(person):
                chosen.append(person)
        return chosen

    def label(rule: str, ref: int) -> None:
        labels.append({"subject": "registry:person", "rule": rule, "record_ref": str(ref), "injected_by": INJECTOR})

    for p in pick("invalid_id_number"):
        first17, actual = p.id_number[:17], p.id_number[17]
        assert actual == id_number_check_digit(first17)
        p.id_number = first17 + _wrong_check(first17, actual, "0123456789X", rng)
        label("invalid_id_number", p.id)
    # Working-age on the day of measurement, with a margin, so the rule's age window holds for a year.
    for p in pick("missing_phone", lambda q: 19 <= _age(q.birth_date, today) <= 68 and q.phone):
        p.phone = None
        label("missing_phone", p.id)
    for p in pick("invalid_phone", lambda q: q.phone):
        p.phone = rng.choice((p.phone[:7], "2" + p.phone[1:], "10" + p.phone[2:]))  # type: ignore[index]
        label("invalid_phone", p.id)
    for p in pick("id_birth_mismatch", lambda q: q.phone and 20 <= _age(q.birth_date, today) <= 60):
        p.birth_date = p.birth_date - timedelta(days=1 + int(rng.random() * 400))
        label("id_birth_mismatch", p.id)
    originals = pick("duplicate_record")
    for p in pick("stale_record"):
        p.updated_at = RECORDED_AT - timedelta(days=int(3.5 * 365 + rng.random() * 5.5 * 365))
        label("stale_record", p.id)
    session.flush()
    used_ids = set(session.scalars(select(Person.id_number)))
    table = Person.__table__
    assert isinstance(table, Table)
    for p in originals:  # a second registration of the same resident under a new (valid) ID number
        while True:
            copy_id = make_id_number(p.id_number[:6], p.birth_date, rng.randrange(500), p.gender)  # type: ignore[arg-type]
            if copy_id not in used_ids:
                break
        used_ids.add(copy_id)
        values = {c.name: getattr(p, c.key) for c in table.columns if c.name not in ("id",)}
        values.update(id_number=copy_id, phone=None if p.phone is None else p.phone, created_at=RECORDED_AT,
                      updated_at=RECORDED_AT)
        new_id = session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
        label("duplicate_record", new_id)


def _inject_entities(session: Session, rng: random.Random, protected: set[str], labels: list[dict[str, Any]]) -> None:
    rows = session.execute(select(LegalEntity).order_by(LegalEntity.id)).scalars().all()
    candidates = [e for e in rows if e.credit_code not in protected]
    rng.shuffle(candidates)
    total, taken = len(rows), 0

    def pick(rule: str) -> list[LegalEntity]:
        nonlocal taken
        count = max(1, round(total * ENTITY_RATES[rule]))
        chosen = candidates[taken:taken + count]
        taken += count
        return chosen

    def label(rule: str, ref: int) -> None:
        labels.append({"subject": "registry:legal_entity", "rule": rule, "record_ref": str(ref), "injected_by": INJECTOR})

    for e in pick("invalid_credit_code"):
        e.credit_code = e.credit_code[:17] + _wrong_check(e.credit_code[:17], e.credit_code[17], CREDIT_CODE_ALPHABET, rng)
        label("invalid_credit_code", e.id)
    for e in pick("missing_legal_representative_name"):
        e.legal_representative_name = ""
        label("missing_legal_representative_name", e.id)
    for e in pick("stale_record"):
        e.updated_at = RECORDED_AT - timedelta(days=int(3.5 * 365 + rng.random() * 5.5 * 365))
        label("stale_record", e.id)
    session.flush()


def inject_defects(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("quality_defects")
    filled = _complete_phones(session, rng)
    protected = _protected(session, ctx)
    labels: list[dict[str, Any]] = []
    _inject_persons(session, rng, protected, labels)
    _inject_entities(session, rng, protected, labels)
    table = DefectLabel.__table__
    assert isinstance(table, Table)
    if labels:
        session.execute(insert(table), labels)
    ctx.facts["quality_labels"] = len(labels)
    ctx.progress("quality defects", len(labels), len(labels) + filled)


def first_reports(session: Session, ctx: DemoContext) -> None:
    reports = service.run(session, actor=INJECTOR.replace("defects", "reports"), datasets=False)
    ctx.progress("quality reports", len(reports), len(reports))
