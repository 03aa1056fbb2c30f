"""The registries' L4 fields are ciphertext at rest, clear through the ORM and graded through the API;
migration 0017 seals existing rows (and opens them on downgrade); key rotation keeps them readable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Column, Date, Engine, MetaData, Table, TextClause, bindparam, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from xc_testing import postgres_schema
from xingcheng.core.crypto import EncryptedString, FieldCryptoError, KeyringFile, current_keyring, rotate_keys, use_keyring
from xingcheng.core.db import UtcDateTime, create_db_engine
from xingcheng.core.ids import validate_mobile
from xingcheng.core.masking import mask
from xingcheng.core.migrate import alembic_config, upgrade
from xingcheng.datahub.registries.models import CorrectionRequest, FieldClaim, Person

SEALED = "v1:"


def _raw(session: Session, sql: str, **params: object) -> tuple[object, ...]:
    row = session.execute(text(sql), params).one()
    return tuple(row)


def _person_with_l4_values(session: Session) -> Person:
    person = session.scalars(select(Person).where(Person.phone.is_not(None), Person.disability_grade.is_not(None))
                             .order_by(Person.id).limit(1)).one()
    return person


def test_l4_fields_are_ciphertext_at_rest_and_clear_through_the_orm(any_db: Session) -> None:
    person = _person_with_l4_values(any_db)
    assert validate_mobile(person.phone or "") == person.phone and person.disability_grade in (1, 2, 3, 4)
    phone, grade = _raw(any_db, "SELECT phone, disability_grade FROM person WHERE id = :id", id=person.id)
    assert isinstance(phone, str) and phone.startswith(SEALED) and person.phone not in phone
    assert isinstance(grade, str) and grade.startswith(SEALED) and grade != str(person.disability_grade)
    # Bound to its column: the phone's ciphertext does not open as another column's value.
    keyring = current_keyring()
    assert keyring.decrypt(phone, binding="person.phone") == person.phone
    with pytest.raises(FieldCryptoError):
        keyring.decrypt(phone, binding="person.residence_address")
    clear = any_db.scalar(text("SELECT count(*) FROM person WHERE phone NOT LIKE 'v1:%' "
                               "OR disability_grade NOT LIKE 'v1:%'"))
    assert clear == 0  # NULLs aside, no person row keeps a clear L4 value


def test_an_update_is_sealed_and_sql_comparison_is_refused(any_db: Session) -> None:
    person = _person_with_l4_values(any_db)
    person.phone, person.disability_grade = "13912345678", 2
    any_db.flush()
    phone, grade = _raw(any_db, "SELECT phone, disability_grade FROM person WHERE id = :id", id=person.id)
    assert str(phone).startswith(SEALED) and "13912345678" not in str(phone) and str(grade).startswith(SEALED)
    any_db.expire(person)
    assert (person.phone, person.disability_grade) == ("13912345678", 2)
    with pytest.raises(FieldCryptoError):  # a look-up by phone would silently match nothing: refused instead
        select(Person).where(Person.phone == "13912345678")


def test_claim_values_are_sealed(any_db: Session) -> None:
    claim = any_db.scalars(select(FieldClaim).where(FieldClaim.value.is_not(None)).limit(1)).one()
    value, authority = _raw(any_db, "SELECT value, authority_value FROM registry_claim WHERE id = :id", id=claim.id)
    assert str(value).startswith(SEALED) and claim.value is not None and claim.value not in str(value)
    assert authority is None or str(authority).startswith(SEALED)


def test_api_reads_are_clear_for_the_citizen_and_graded_for_staff(client, auth, any_db: Session) -> None:  # type: ignore[no-untyped-def]
    own = client.get("/api/v1/registries/persons/me", headers=auth("citizen")).json()
    stored = any_db.scalars(select(Person).where(Person.id_number == own["id_number"])).one()
    assert own["phone"] == stored.phone and validate_mobile(own["phone"]) == own["phone"]
    assert str(_raw(any_db, "SELECT phone FROM person WHERE id = :id", id=stored.id)[0]).startswith(SEALED)
    # 数据资源局 holds the 数据治理 grant up to L4: the decrypted phone arrives masked by its kind.
    body = client.get("/api/v1/registries/persons?limit=20&purpose=数据治理", headers=auth("steward")).json()
    assert body["basis"] == "grant" and body["fields"]["phone"] == "masked"
    expected = [mask("phone", p.phone) for p in any_db.scalars(select(Person).order_by(Person.id).limit(20))]
    assert [p["phone"] for p in body["items"]] == expected and any(expected)
    assert all(p["disability_grade"] is None or isinstance(p["disability_grade"], int) for p in body["items"]) \
        if body["fields"]["disability_grade"] == "clear" else all("disability_grade" not in p for p in body["items"])


# ---- migration 0017 and rotation on a database of its own ---------------------------------------------------

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _sql(statement: str) -> TextClause:
    types: dict[str, TypeEngine[Any]] = {"at": UtcDateTime(), "birth": Date()}
    return text(statement).bindparams(*[bindparam(k, type_=t) for k, t in types.items() if f":{k}" in statement])


def _seed_before_0017(engine: Engine) -> None:
    """One division, department, person and claim written as the 0009 schema stored them: in clear."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO division (code, name, level) VALUES ('430104', '岳麓区', 'county')"))
        conn.execute(_sql("INSERT INTO department (id, code, name, short_name, kind, division_code, created_at, "
                          "updated_at) VALUES (1, 'gaj', '公安局', '公安局', 'bureau', '430104', :at, :at)"), {"at": AT})
        conn.execute(_sql(
            "INSERT INTO person (id, id_number, name, gender, birth_date, ethnicity, division_code, household_address, "
            "residence_address, phone, marital_status, education, employment_status, retired, social_insurance_months, "
            "housing_fund_status, housing_fund_balance_cents, disability_grade, residence_permit_status, household_id, "
            "low_income_status, created_at, updated_at) VALUES (1, '43010419800101001X', '张三', 'M', :birth, '汉族', "
            "'430104', '地址', '地址', '13800138000', 'married', 'bachelor', 'employed', false, 120, 'none', 0, 3, "
            "'not_needed', '430104000001', 'none', :at, :at), (2, '430104199001010028', '李四', 'F', :birth, '汉族', "
            "'430104', '地址', '地址', NULL, 'unmarried', 'bachelor', 'employed', false, 12, 'none', 0, NULL, "
            "'not_needed', '430104000002', 'none', :at, :at)"), {"birth": date(1980, 1, 1), "at": AT})
        conn.execute(_sql(
            "INSERT INTO registry_claim (id, registry_name, record_key, field, value, department_code, source, "
            "observed_at, status, authority_department_code, authority_value, checked_at, submitted_by, created_at, "
            "updated_at) VALUES (1, 'person', '43010419800101001X', 'phone', '\"13900139000\"', 'gaj', 'x', :at, "
            "'conflict', 'dsj', '\"13800138000\"', :at, 'test', :at, :at)"), {"at": AT})


def _columns_in_clear(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as conn:
        person = conn.execute(text("SELECT phone, disability_grade FROM person WHERE id = 1")).one()
        claim = conn.execute(text("SELECT value, authority_value FROM registry_claim WHERE id = 1")).one()
    return (*person, *claim)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'registries.db'}")
        yield engine
        engine.dispose()
    else:
        with postgres_schema("xc_regenc") as engine:
            yield engine


def test_migration_0017_seals_existing_rows_rotation_keeps_them_and_downgrade_opens_them(fresh: Engine,
                                                                                       tmp_path: Path) -> None:
    keys = KeyringFile(tmp_path / "keys" / "field-keys.json")
    with use_keyring(keys):
        upgrade(fresh, "0009")
        _seed_before_0017(fresh)
        upgrade(fresh, "0017")
        phone, grade, value, authority = _columns_in_clear(fresh)
        assert all(str(v).startswith(f"{SEALED}k1:") for v in (phone, grade, value, authority))
        assert "13800138000" not in str(phone) and "13900139000" not in str(value)
        with Session(fresh) as session:
            person, nobody = session.get_one(Person, 1), session.get_one(Person, 2)
            assert (person.phone, person.disability_grade) == ("13800138000", 3)
            assert (nobody.phone, nobody.disability_grade) == (None, None)
            claim = session.get_one(FieldClaim, 1)
            assert (claim.value, claim.authority_value) == ('"13900139000"', '"13800138000"')

        only_registries = MetaData()  # the registries' keys and encrypted columns, the models' own types
        for model in (Person, FieldClaim, CorrectionRequest):
            assert isinstance(model.__table__, Table)
            Table(model.__table__.name, only_registries, *[
                Column(c.name, c.type, primary_key=c.primary_key) for c in model.__table__.columns
                if c.primary_key or isinstance(c.type, EncryptedString)])
        report = rotate_keys(fresh, keys, metadata=only_registries, batch_size=1)
        assert report.active_key_id == "k2" and report.failures == []
        assert {(c.table, c.column): c.reencrypted for c in report.columns if c.reencrypted} == {
            ("person", "phone"): 1, ("person", "disability_grade"): 1,
            ("registry_claim", "value"): 1, ("registry_claim", "authority_value"): 1}
        assert all(str(v).startswith(f"{SEALED}k2:") for v in _columns_in_clear(fresh))
        with Session(fresh) as session:
            person = session.get_one(Person, 1)
            assert (person.phone, person.disability_grade) == ("13800138000", 3)

        with fresh.begin() as connection:  # 0017 is this database's only revision past 0009
            config = alembic_config(fresh)
            config.attributes["connection"] = connection
            command.downgrade(config, "0009")
        phone, grade, value, authority = _columns_in_clear(fresh)
        assert (phone, int(str(grade)), value, authority) == ("13800138000", 3, '"13900139000"', '"13800138000"')
