"""一数一源 (one authoritative source per field) and 多源校核 (multi-source verification).

Every registry field has one owning department (``registry_field_owner``). An update from that
department overwrites the field and is audited (``registries.field.update``); an update from any other
department is recorded as a *claim* (``registry_claim``) and compared with the authoritative value:
``agrees`` or ``conflict``. The steward's work queue lists the conflicts with their evidence (who
said what, when, from which source, against which authoritative value); the steward rejects a claim
or accepts it, which sends a correction request to the authority — the authority alone changes the
record, by applying the correction. Batch updates report per field and keep the good ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, Select, Table, func, select, update
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.audit.models import canonical_json
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.grants.policy import FieldSpec, ResourceDescriptor, rank
from xingcheng.core.identity.models import Division
from xingcheng.core.identity.service import get_department_by_code
from xingcheng.core.ids import validate_credit_code, validate_id_number, validate_mobile
from xingcheng.core.notifications.schemas import NotificationCreate
from xingcheng.core.notifications.service import notify
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.datahub.registries.models import CorrectionRequest, FieldClaim, FieldOwner, LegalEntity, Person

RegistryName = Literal["person", "legal_entity"]
REGISTRY_NAMES: tuple[RegistryName, ...] = ("person", "legal_entity")
MODELS: dict[str, type[Person] | type[LegalEntity]] = {"person": Person, "legal_entity": LegalEntity}
KEY_FIELDS = {"person": "id_number", "legal_entity": "credit_code"}
# The registries' resource keys for grants and audit; the population register is kept by 公安局 (gaj),
# the market-entity register by 市场监管局 (scj), as in the demo city.
RESOURCE_KEYS = {"person": "registry:person", "legal_entity": "registry:legal_entity"}
REGISTRY_OWNERS = {"person": "gaj", "legal_entity": "scj"}

# (owning department, grade, masking kind) per field: the demo city's 一数一源 table.
DEFAULT_OWNERS: dict[str, dict[str, tuple[str, str, str | None]]] = {
    "person": {
        "id_number": ("gaj", "L3", "id_number"), "name": ("gaj", "L3", "name"), "gender": ("gaj", "L2", None),
        "birth_date": ("gaj", "L2", None), "ethnicity": ("gaj", "L3", None), "division_code": ("gaj", "L2", None),
        "household_address": ("gaj", "L3", "address"), "residence_address": ("gaj", "L3", "address"),
        "household_id": ("gaj", "L3", None), "residence_permit_status": ("gaj", "L2", None),
        "phone": ("dsj", "L4", "phone"),  # the real-name-verified number of the 一网通办 account
        "marital_status": ("mz", "L3", None), "low_income_status": ("mz", "L3", None),
        "education": ("jyj", "L2", None), "employment_status": ("rsj", "L2", None), "retired": ("rsj", "L2", None),
        "retired_date": ("rsj", "L2", None), "social_insurance_months": ("sbj", "L2", None),
        "housing_fund_status": ("gjj", "L2", None), "housing_fund_balance_cents": ("gjj", "L3", None),
        "disability_grade": ("cl", "L4", None),
    },
    "legal_entity": {
        "credit_code": ("scj", "L1", None), "name": ("scj", "L1", None), "entity_type": ("scj", "L1", None),
        "industry_code": ("scj", "L1", None), "industry_name": ("scj", "L1", None),
        "registered_capital_yuan": ("scj", "L1", None), "established_date": ("scj", "L1", None),
        "status": ("scj", "L1", None), "division_code": ("scj", "L1", None), "address": ("scj", "L1", None),
        "legal_representative_name": ("scj", "L1", None),
        "legal_representative_id_number": ("scj", "L3", "id_number"),
        "employees": ("rsj", "L2", None), "revenue_band": ("tjj", "L2", None),
        "tax_credit_rating": ("swj_tax", "L2", None), "high_tech": ("kjj", "L1", None),
        "rd_spend_yuan": ("kjj", "L3", None), "exporter": ("hg", "L2", None),
    },
}
ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("person", "gender"): frozenset({"M", "F"}),
    ("person", "marital_status"): frozenset({"unmarried", "married", "divorced", "widowed"}),
    ("person", "employment_status"): frozenset({"employed", "self_employed", "unemployed", "student", "retired", "child"}),
    ("person", "housing_fund_status"): frozenset({"none", "active", "sealed", "closed"}),
    ("person", "residence_permit_status"): frozenset({"not_needed", "valid", "expired"}),
    ("person", "low_income_status"): frozenset({"none", "dibao", "tekun"}),
    ("legal_entity", "status"): frozenset({"active", "revoked", "cancelled", "suspended"}),
    ("legal_entity", "revenue_band"): frozenset({"micro", "small", "medium", "large"}),
    ("legal_entity", "tax_credit_rating"): frozenset({"A", "B", "M", "C", "D"}),
}
OPEN_STATUSES = ("agrees", "conflict", "no_record")


# ---- the ownership table --------------------------------------------------------------------------------

def seed_field_owners(session: Session) -> int:
    """Insert the default ownership rows that are missing (departments must exist); returns rows added."""
    existing = {(o.registry_name, o.field) for o in session.scalars(select(FieldOwner))}
    added = 0
    for registry_name, fields in DEFAULT_OWNERS.items():
        for name, (department, grade, kind) in fields.items():
            if (registry_name, name) not in existing and get_department_by_code(session, code=department) is not None:
                session.add(FieldOwner(registry_name=registry_name, field=name, department_code=department, grade=grade,
                                       kind=kind))
                added += 1
    session.flush()
    return added


def field_owners(session: Session, registry_name: str) -> dict[str, FieldOwner]:
    _check_registry(registry_name)
    rows = session.scalars(select(FieldOwner).where(FieldOwner.registry_name == registry_name)).all()
    return {row.field: row for row in rows}


def list_field_owners(session: Session) -> list[FieldOwner]:
    return list(session.scalars(select(FieldOwner).order_by(FieldOwner.registry_name, FieldOwner.id)))


def _check_registry(registry_name: str) -> None:
    if registry_name not in MODELS:
        raise Invalid(f"unknown registry {registry_name!r}; expected one of {', '.join(REGISTRY_NAMES)}")


def field_specs(registry_name: str) -> dict[str, FieldSpec]:
    """Each field's grade and masking kind (the code's table: grades are part of the contract, not data)."""
    return {name: FieldSpec(grade, kind) for name, (_d, grade, kind) in DEFAULT_OWNERS[registry_name].items()}  # type: ignore[arg-type]


def descriptor(registry_name: str, *, with_purpose: bool) -> ResourceDescriptor:
    """The grants descriptor of a registry. Without a stated purpose only the L1/L2 view is asked for."""
    specs = field_specs(registry_name)
    if not with_purpose:
        specs = {name: spec for name, spec in specs.items() if rank(spec.grade) <= 2}
    grade = max((spec.grade for spec in specs.values()), key=rank)
    return ResourceDescriptor(RESOURCE_KEYS[registry_name], REGISTRY_OWNERS[registry_name], grade, specs)


# ---- values ---------------------------------------------------------------------------------------------

def encode(value: object) -> str | None:
    """A field value as stored in claims: canonical JSON, dates as ISO strings; None stays None."""
    if value is None:
        return None
    if isinstance(value, date | datetime):
        value = value.isoformat()
    return canonical_json(value)


def decode(text: str | None) -> object:
    return None if text is None else json.loads(text)


def _column_python_type(registry_name: str, name: str) -> type:
    python_type: type = _table(registry_name).c[name].type.python_type
    return python_type


def _table(registry_name: str) -> Table:
    table = MODELS[registry_name].__table__
    assert isinstance(table, Table)
    return table


def coerce(session: Session, registry_name: str, name: str, raw: object) -> object:
    """``raw`` as the column's Python value, validated (formats, enumerations, divisions); Invalid if not."""
    if name == KEY_FIELDS[registry_name]:
        raise Invalid(f"{name} is the record's key and cannot be changed by an update")
    if name not in DEFAULT_OWNERS[registry_name]:
        raise Invalid(f"{registry_name} has no field {name!r}")
    column = _table(registry_name).c[name]
    if raw is None:
        if not column.nullable:
            raise Invalid(f"{name} cannot be empty")
        return None
    kind = _column_python_type(registry_name, name)
    try:
        if kind is bool:
            if not isinstance(raw, bool):
                raise ValueError("must be true or false")
            value: object = raw
        elif kind is int:
            if isinstance(raw, bool) or not isinstance(raw, int | str):
                raise ValueError("must be an integer")
            value = int(raw)
            bits = 63 if isinstance(column.type, BigInteger) else 31
            if not -(2**bits) <= value < 2**bits:
                raise ValueError("is out of range")
        elif kind is date:
            value = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        else:
            value = str(raw).strip()
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
            length = getattr(column.type, "length", None)
            if not value or (length and len(value) > length):
                raise ValueError(f"must be 1–{length or 'any'} characters")
    except ValueError as exc:
        raise Invalid(f"{name}: {exc}") from None
    allowed = ENUMS.get((registry_name, name))
    if allowed is not None and value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(sorted(allowed))}")
    try:
        if name == "phone":
            value = validate_mobile(str(value))
        elif name == "legal_representative_id_number":
            value = validate_id_number(str(value))
    except ValueError as exc:
        raise Invalid(f"{name}: {exc}") from None
    if name == "division_code" and session.get(Division, value) is None:
        raise Invalid(f"division_code {value} is not a known GB/T 2260 division")
    return value


def get_record(session: Session, registry_name: str, key: str) -> Person | LegalEntity | None:
    _check_registry(registry_name)
    key = key.strip().upper()
    if registry_name == "person":
        return session.scalar(select(Person).where(Person.id_number == key))
    return session.scalar(select(LegalEntity).where(LegalEntity.credit_code == key))


def normalise_key(registry_name: str, key: str) -> str:
    text = "".join(key.split()).upper()
    try:
        return validate_id_number(text) if registry_name == "person" else validate_credit_code(text)
    except ValueError:
        return text  # registry keys with defects (bad check digits) stay addressable


# ---- updates and claims ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpdateOutcome:
    field: str
    action: str  # updated | unchanged | claim_agrees | claim_conflict | rejected
    claim_id: int | None = None
    reason: str | None = None


def _require_department(actor: Principal) -> str:
    actor.require("registries:claim")
    if not actor.department_code:
        raise Forbidden("registry updates come from a department; your account belongs to none")
    return actor.department_code


def _apply(session: Session, record: Person | LegalEntity, registry_name: str, name: str, value: object,
           actor: Principal | str, source: str, reason: str) -> bool:
    old = getattr(record, name)
    if old == value:
        return False
    setattr(record, name, value)
    record.updated_at = utcnow()
    session.flush()
    key = getattr(record, KEY_FIELDS[registry_name])
    audit.record(session, actor=actor, action="registries.field.update", subject=f"{registry_name}:{key}",
                 details={"field": name, "source": source, "reason": reason,
                          "old_sha256_prefix": _digest(old), "new_sha256_prefix": _digest(value)})
    _recheck(session, registry_name, key, name, value)
    return True


def _digest(value: object) -> str | None:
    text = encode(value)
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


def _recheck(session: Session, registry_name: str, key: str, name: str, value: object) -> None:
    """After an authoritative change, open claims on the field are compared again."""
    now, encoded = utcnow(), encode(value)
    claims = session.scalars(select(FieldClaim).where(
        FieldClaim.registry_name == registry_name, FieldClaim.record_key == key, FieldClaim.field == name,
        FieldClaim.status.in_(OPEN_STATUSES))).all()
    for claim in claims:
        claim.authority_value, claim.checked_at = encoded, now
        claim.status = "agrees" if claim.value == encoded else "conflict"
    session.flush()


def submit_update(
    session: Session, *, registry_name: str, record_key: str, changes: Mapping[str, object], source: str,
    actor: Principal, observed_at: datetime | None = None,
) -> list[UpdateOutcome]:
    """An update from a department: owned fields overwrite (audited), others become claims. Per field."""
    department = _require_department(actor)
    _check_registry(registry_name)
    source = source.strip()
    if not 1 <= len(source) <= 128 or "\x00" in source:
        raise Invalid("source must be 1–128 characters: the system or document the values come from")
    if not changes:
        raise Invalid("no fields to update")
    key = normalise_key(registry_name, record_key)
    record = get_record(session, registry_name, key)
    if record is None:
        raise NotFound(f"no {registry_name.replace('_', ' ')} with key {key}")
    owners = field_owners(session, registry_name)
    now = utcnow()
    observed = observed_at or now
    outcomes: list[UpdateOutcome] = []
    for name, raw in changes.items():
        try:
            value = coerce(session, registry_name, name, raw)
        except Invalid as exc:
            outcomes.append(UpdateOutcome(name, "rejected", reason=exc.detail))
            continue
        owner = owners.get(name)
        if owner is None:
            outcomes.append(UpdateOutcome(name, "rejected", reason=f"no department owns {registry_name}.{name}"))
            continue
        if owner.department_code == department:
            changed = _apply(session, record, registry_name, name, value, actor, source, "authoritative update")
            outcomes.append(UpdateOutcome(name, "updated" if changed else "unchanged"))
            continue
        claim = record_claim(session, registry_name=registry_name, record=record, name=name, value=value,
                             department=department, source=source, observed_at=observed, actor=actor,
                             authority=owner.department_code, now=now)
        outcomes.append(UpdateOutcome(name, f"claim_{claim.status}", claim.id))
    return outcomes


def record_claim(
    session: Session, *, registry_name: str, record: Person | LegalEntity, name: str, value: object, department: str,
    source: str, observed_at: datetime, actor: Principal | str, authority: str, now: datetime | None = None,
    audit_it: bool = True,
) -> FieldClaim:
    """Store one claim, compared with the authoritative value at once; supersedes the department's older claim."""
    now = now or utcnow()
    key = getattr(record, KEY_FIELDS[registry_name])
    authority_value = encode(getattr(record, name))
    encoded = encode(value)
    session.execute(update(FieldClaim).where(
        FieldClaim.registry_name == registry_name, FieldClaim.record_key == key, FieldClaim.field == name,
        FieldClaim.department_code == department, FieldClaim.status.in_(OPEN_STATUSES),
    ).values(status="superseded", updated_at=now))
    claim = FieldClaim(
        registry_name=registry_name, record_key=key, field=name, value=encoded, department_code=department, source=source,
        observed_at=observed_at, status="agrees" if encoded == authority_value else "conflict",
        authority_department_code=authority, authority_value=authority_value, checked_at=now,
        submitted_by=actor.name[:64] if isinstance(actor, Principal) else actor[:64], created_at=now, updated_at=now,
    )
    session.add(claim)
    session.flush()
    if audit_it:
        audit.record(session, actor=actor, action="registries.claim.record", subject=f"{registry_name}:{key}",
                     result=claim.status, details={"field": name, "claim_id": claim.id, "source": source,
                                                   "authority": authority})
    return claim


def verify_claims(session: Session, *, actor: Principal | str, registry_name: str | None = None) -> dict[str, int]:
    """多源校核: compare every open claim with the current authoritative value; counts per status."""
    statement = select(FieldClaim).where(FieldClaim.status.in_(OPEN_STATUSES))
    if registry_name:
        _check_registry(registry_name)
        statement = statement.where(FieldClaim.registry_name == registry_name)
    claims = session.scalars(statement.order_by(FieldClaim.id)).all()
    now, changed = utcnow(), 0
    by_registry: dict[str, list[FieldClaim]] = {}
    for claim in claims:
        by_registry.setdefault(claim.registry_name, []).append(claim)
    for name, group in by_registry.items():
        model = MODELS[name]
        key_column = getattr(model, KEY_FIELDS[name])
        keys = sorted({c.record_key for c in group})
        records: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            for row in session.scalars(select(model).where(key_column.in_(keys[start:start + 500]))):
                records[getattr(row, KEY_FIELDS[name])] = row
        for claim in group:
            found = records.get(claim.record_key)
            status = "no_record" if found is None else None
            authority_value = None if found is None else encode(getattr(found, claim.field))
            status = status or ("agrees" if claim.value == authority_value else "conflict")
            if status != claim.status or authority_value != claim.authority_value:
                changed += 1
            claim.status, claim.authority_value, claim.checked_at = status, authority_value, now
    session.flush()
    counts = {status: sum(1 for c in claims if c.status == status) for status in OPEN_STATUSES}
    audit.record(session, actor=actor, action="registries.claims.verify", subject="registry:claims",
                 details={**counts, "changed": changed, "registry": registry_name})
    return counts


# ---- the steward's work queue ------------------------------------------------------------------------------

def list_claims(
    session: Session, *, page: PageParams, status: str | None = "conflict", registry_name: str | None = None,
    field: str | None = None, department: str | None = None, record_key: str | None = None,
) -> tuple[list[FieldClaim], int]:
    statement: Select[FieldClaim] = select(FieldClaim).order_by(FieldClaim.checked_at.desc(), FieldClaim.id.desc())
    if status:
        statement = statement.where(FieldClaim.status == status)
    if registry_name:
        statement = statement.where(FieldClaim.registry_name == registry_name)
    if field:
        statement = statement.where(FieldClaim.field == field)
    if department:
        statement = statement.where(FieldClaim.department_code == department)
    if record_key:
        statement = statement.where(FieldClaim.record_key == record_key.strip().upper())
    return paginate(session, statement, page)


def claim_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(FieldClaim.status, func.count()).group_by(FieldClaim.status)).all()
    return {status: int(n) for status, n in rows}


def get_claim_or_raise(session: Session, claim_id: int) -> FieldClaim:
    claim = session.get(FieldClaim, claim_id)
    if claim is None:
        raise NotFound(f"no claim #{claim_id}")
    return claim


def resolve_claim(
    session: Session, *, claim_id: int, decision: Literal["accept", "reject"], note: str, actor: Principal,
) -> tuple[FieldClaim, CorrectionRequest | None]:
    """The steward's decision on a conflict: accept → a correction request to the authority; reject → closed."""
    actor.require("registries:write")
    note = note.strip()
    if not 2 <= len(note) <= 500:
        raise Invalid("a resolution needs a note of 2–500 characters (the evidence weighed)")
    claim = get_claim_or_raise(session, claim_id)
    if claim.status != "conflict":
        raise Conflict(f"claim #{claim.id} is {claim.status}, not an open conflict")
    now = utcnow()
    claim.status = "accepted" if decision == "accept" else "rejected"
    claim.resolved_by, claim.resolved_at, claim.resolution_note, claim.updated_at = actor.name[:64], now, note, now
    correction = None
    if decision == "accept":
        correction = CorrectionRequest(
            claim_id=claim.id, registry_name=claim.registry_name, record_key=claim.record_key, field=claim.field,
            proposed_value=claim.value, authority_department_code=claim.authority_department_code,
            requested_by=actor.name[:64], note=note, created_at=now, updated_at=now,
        )
        session.add(correction)
        session.flush()
        notify(session, source="registries", data=NotificationCreate(
            recipient_kind="department", recipient_key=claim.authority_department_code,
            title="数据纠错请求（一数一源）",
            body=f"数据管理员认定 {claim.registry_name}.{claim.field} 的一条异议成立（来源 {claim.department_code}），"
                 f"请核实并处理纠错请求 #{correction.id}。",
            link="/console/datahub/registries/conflicts",
        ))
    session.flush()
    audit.record(session, actor=actor, action="registries.claim.resolve", subject=f"{claim.registry_name}:{claim.record_key}",
                 result=claim.status, details={"claim_id": claim.id, "field": claim.field, "note": note,
                                               "correction_id": correction.id if correction else None})
    return claim, correction


def list_corrections(
    session: Session, *, page: PageParams, department: str | None = None, status: str | None = "open",
) -> tuple[list[CorrectionRequest], int]:
    statement: Select[CorrectionRequest] = select(CorrectionRequest).order_by(CorrectionRequest.id.desc())
    if department:
        statement = statement.where(CorrectionRequest.authority_department_code == department)
    if status:
        statement = statement.where(CorrectionRequest.status == status)
    return paginate(session, statement, page)


def decide_correction(
    session: Session, *, correction_id: int, apply: bool, note: str, actor: Principal,
) -> CorrectionRequest:
    """The authority applies (the record changes, audited) or declines a correction request."""
    correction = session.get(CorrectionRequest, correction_id)
    if correction is None:
        raise NotFound(f"no correction request #{correction_id}")
    if actor.department_code != correction.authority_department_code and "admin" not in actor.roles:
        raise Forbidden(f"only the authoritative department {correction.authority_department_code} decides this correction")
    if correction.status != "open":
        raise Conflict(f"correction request #{correction.id} is already {correction.status}")
    note = note.strip()
    if not 2 <= len(note) <= 500:
        raise Invalid("a decision needs a note of 2–500 characters")
    now = utcnow()
    if apply:
        record = get_record(session, correction.registry_name, correction.record_key)
        if record is None:
            raise NotFound(f"the record {correction.record_key} no longer exists")
        value = coerce(session, correction.registry_name, correction.field, decode(correction.proposed_value))
        _apply(session, record, correction.registry_name, correction.field, value, actor,
               f"correction #{correction.id}", note)
    correction.status = "applied" if apply else "declined"
    correction.decided_by, correction.decided_at, correction.note, correction.updated_at = actor.name[:64], now, note, now
    session.flush()
    audit.record(session, actor=actor, action="registries.correction.decide",
                 subject=f"{correction.registry_name}:{correction.record_key}", result=correction.status,
                 details={"correction_id": correction.id, "field": correction.field, "note": note})
    return correction


def evidence(session: Session, claim: FieldClaim) -> dict[str, Any]:
    """Who said what, when: the claim, the authority's value, and every other claim on the same field."""
    others = session.scalars(select(FieldClaim).where(
        FieldClaim.registry_name == claim.registry_name, FieldClaim.record_key == claim.record_key,
        FieldClaim.field == claim.field, FieldClaim.id != claim.id).order_by(FieldClaim.observed_at)).all()
    record = get_record(session, claim.registry_name, claim.record_key)
    return {
        "authority": {"department_code": claim.authority_department_code, "value": decode(claim.authority_value),
                      "record_updated_at": record.updated_at if record else None},
        "claims": [{"id": c.id, "department_code": c.department_code, "value": decode(c.value), "source": c.source,
                    "observed_at": c.observed_at, "status": c.status} for c in (claim, *others)],
    }


def owned_fields(registry_name: str, department: str) -> Sequence[str]:
    return [name for name, (owner, _g, _k) in DEFAULT_OWNERS[registry_name].items() if owner == department]
