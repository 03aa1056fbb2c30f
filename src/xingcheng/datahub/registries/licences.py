"""E-licences (电子证照库): issue, read, revoke and verify signed licences and certificates.

Every licence is signed with the city's Ed25519 licence key over its canonical payload, so a third
party can check that a licence is genuine and unaltered:

    signed bytes = b"xc-licence\\x00v1\\x00" || canonical JSON of the payload (UTF-8)

    payload = {"v": 1, "number", "type", "holder_kind", "holder_id", "holder_name", "issuer",
               "valid_from", "valid_until" (ISO dates, null = long-term), "data", "issued_at"
               (ISO UTC, seconds), "salt" (16 random bytes, hex)}

Canonical JSON is the audit ledger's (sorted keys, no spaces, UTF-8). ``payload_hash`` is the SM3
digest of the payload; the random salt keeps a published hash from confirming a guessed ID number.
Public keys are kept in ``registry_licence_key`` (the private key in
``<data_dir>/keys/licence-signing.key``, 0600), so licences signed before a key change still verify.

Licence numbers are ``<PREFIX>-<year>-<10 random characters><check character>`` (ISO 7064 MOD 37,36
over 0-9A-Z): random, so the public verification endpoint cannot be used to enumerate holders.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, func, insert, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.audit.merkle import hasher
from xingcheng.core.audit.models import canonical_json
from xingcheng.core.audit.signing import Signer, key_id, signer_for, verify_signature
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Conflict, Forbidden, Invalid, NotFound
from xingcheng.core.identity.service import get_department_by_code
from xingcheng.core.ids import validate_credit_code, validate_id_number
from xingcheng.core.masking import mask
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.core.settings import get_settings
from xingcheng.datahub.registries.models import Licence, LicenceSigningKey
from xingcheng.datahub.registries.schemas import LicenceVerification

KEY_FILE_NAME = "licence-signing.key"
SIGNED_PREFIX = b"xc-licence\x00v1\x00"
PAYLOAD_VERSION = 1
MAX_DATA_BYTES = 16_384
CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Crockford's alphabet for the random part: no I, L, O, U, so a number read aloud or retyped survives.
RANDOM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
NUMBER_PATTERN = re.compile(r"^[A-Z]{2,6}-\d{4}-[0-9A-Z]{11}$")
# Departments with centralised licensing powers (相对集中行政许可权): they issue for other departments.
CENTRAL_ISSUERS = frozenset({"xzsp"})


@dataclass(frozen=True)
class LicenceType:
    code: str
    name: str
    prefix: str
    holder_kind: str  # person | legal_entity | any
    department_code: str  # the usual issuer in the demo city


LICENCE_TYPES: dict[str, LicenceType] = {t.code: t for t in (
    LicenceType("business_licence", "营业执照", "YYZZ", "legal_entity", "scj"),
    LicenceType("food_business_licence", "食品经营许可证", "SPJY", "legal_entity", "scj"),
    LicenceType("resident_id_card", "居民身份证", "SFZ", "person", "gaj"),
    LicenceType("residence_permit", "居住证", "JZZ", "person", "gaj"),
    LicenceType("marriage_certificate", "结婚证", "JHZ", "person", "mz"),
    LicenceType("divorce_certificate", "离婚证", "LHZ", "person", "mz"),
    LicenceType("real_estate_certificate", "不动产权证书", "BDCQ", "any", "bdc"),
    LicenceType("social_security_card", "社会保障卡", "SBK", "person", "rsj"),
    LicenceType("disability_certificate", "残疾人证", "CJRZ", "person", "cl"),
    LicenceType("retirement_certificate", "退休证", "TXZ", "person", "rsj"),
)}


# ---- keys, numbers, payloads -------------------------------------------------------------------

def signing_key_path() -> Path:
    return get_settings().data_dir / "keys" / KEY_FILE_NAME


def licence_signer() -> Signer:
    """The licence signing key (created 0600 on first use), loaded once per process and path."""
    return signer_for(signing_key_path())


def register_signer(session: Session, signer: Signer) -> str:
    """Record ``signer``'s public key so verifications can find it; returns its key id (hex)."""
    kid = signer.key_id.hex()
    if session.get(LicenceSigningKey, kid) is None:
        session.add(LicenceSigningKey(key_id=kid, public_key=signer.public_key.hex()))
        session.flush()
    return kid


def check_character(body: str) -> str:
    """ISO 7064 hybrid MOD 37,36 check character over digits and capital letters."""
    modulus, product = 36, 36
    for char in body:
        if char == "-":
            continue
        total = (product + CHECK_ALPHABET.index(char)) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return CHECK_ALPHABET[(1 - product) % modulus]


def valid_number_format(number: str) -> bool:
    return bool(NUMBER_PATTERN.match(number)) and check_character(number[:-1]) == number[-1]


def new_number(prefix: str, year: int, randbelow: Any = secrets.randbelow) -> str:
    body = f"{prefix}-{year:04d}-" + "".join(RANDOM_ALPHABET[randbelow(len(RANDOM_ALPHABET))] for _ in range(10))
    return body + check_character(body)


def holder_kind_of(holder_id: str) -> tuple[str, str]:
    """(kind, normalised id) for a GB 11643 ID number or a GB 32100 credit code; Invalid otherwise."""
    text = "".join(holder_id.split()).upper()
    if len(text) == 18 and text[:17].isdigit():
        try:
            return "person", validate_id_number(text)
        except ValueError as exc:
            person_error = str(exc)
        try:  # an all-digit credit code is possible in principle
            return "legal_entity", validate_credit_code(text)
        except ValueError:
            raise Invalid(f"holder_id is not a valid ID number: {person_error}") from None
    try:
        return "legal_entity", validate_credit_code(text)
    except ValueError as exc:
        raise Invalid(f"holder_id is neither a GB 11643 ID number nor a GB 32100 credit code: {exc}") from None


def _iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def _payload(values: Mapping[str, Any]) -> dict[str, Any]:
    valid_until = values["valid_until"]
    return {
        "v": PAYLOAD_VERSION, "number": values["number"], "type": values["licence_type"],
        "holder_kind": values["holder_kind"], "holder_id": values["holder_id"], "holder_name": values["holder_name"],
        "issuer": values["issuing_department_code"], "valid_from": values["valid_from"].isoformat(),
        "valid_until": valid_until.isoformat() if valid_until else None,
        "data": values["data"], "issued_at": _iso_time(values["issued_at"]), "salt": values["salt"],
    }


def payload_of(licence: Licence) -> dict[str, Any]:
    """The signed payload of a stored licence (see the module docstring)."""
    return _payload({name: getattr(licence, name) for name in (
        "number", "licence_type", "holder_kind", "holder_id", "holder_name", "issuing_department_code", "valid_from",
        "valid_until", "data", "issued_at", "salt")})


def signed_bytes(payload: Mapping[str, Any]) -> bytes:
    return SIGNED_PREFIX + canonical_json(payload).encode()


def payload_hash(payload: Mapping[str, Any]) -> str:
    return hasher("sm3").hash(canonical_json(payload).encode()).hex()


def _seal(payload: Mapping[str, Any], signer: Signer) -> tuple[str, str]:
    """(payload hash, signature) of a payload, serialising it once."""
    text = canonical_json(payload).encode()
    return hasher("sm3").hash(text).hex(), signer.sign(SIGNED_PREFIX + text).hex()


def _plain_data(data: Mapping[str, object]) -> dict[str, Any]:
    try:
        text = canonical_json(dict(data))
    except (TypeError, ValueError) as exc:
        raise Invalid(f"licence data must be plain JSON (strings, numbers, booleans, lists, objects): {exc}") from None
    if "\\u0000" in text or "\x00" in text:
        raise Invalid("licence data must not contain NUL characters")
    if len(text.encode()) > MAX_DATA_BYTES:
        raise Invalid(f"licence data is larger than {MAX_DATA_BYTES} bytes")
    value: dict[str, Any] = json.loads(text)
    return value


# ---- issuing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LicenceDraft:
    """What one licence says, before it is numbered and signed (bulk issuing)."""

    licence_type: str
    holder_id: str
    holder_name: str
    issuing_department_code: str
    valid_from: date
    valid_until: date | None
    data: Mapping[str, object]
    source: str
    type_name: str | None = None
    number: str | None = None
    issued_at: datetime | None = None
    salt: str | None = None


def _authorize_issue(actor: Principal, department_code: str) -> None:
    if actor.kind == "system":
        return
    if not actor.has("licences:issue"):
        raise Forbidden("only licensing staff may issue or revoke licences")
    if actor.has("registries:write"):  # admin and data steward act for the city
        return
    if actor.department_code not in (department_code, *CENTRAL_ISSUERS):
        raise Forbidden(f"department {actor.department_code} may not issue or revoke licences of {department_code}")


def _row(session: Session, draft: LicenceDraft, signer_kid: str, signer: Signer, now: datetime,
         holders: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    licence_type = draft.licence_type
    if not TYPE_PATTERN.match(licence_type):
        raise Invalid("licence_type must be a lower-case slug such as business_licence")
    known = LICENCE_TYPES.get(licence_type)
    type_name = draft.type_name or (known.name if known else None)
    if not type_name:
        raise Invalid(f"licence type {licence_type!r} is not a known type; give its Chinese name as type_name")
    if holders is None:
        holder_kind, holder_id = holder_kind_of(draft.holder_id)
    else:  # bulk: validate each holder once
        if draft.holder_id not in holders:
            holders[draft.holder_id] = holder_kind_of(draft.holder_id)
        holder_kind, holder_id = holders[draft.holder_id]
    if known and known.holder_kind not in ("any", holder_kind):
        raise Invalid(f"a {known.name} is issued to a {known.holder_kind.replace('_', ' ')}, not a {holder_kind}")
    holder_name = draft.holder_name.strip()
    if not 1 <= len(holder_name) <= 128 or "\x00" in holder_name + draft.source + (draft.type_name or ""):
        raise Invalid("holder_name must be 1–128 characters")
    if draft.valid_until is not None and draft.valid_until < draft.valid_from:
        raise Invalid("valid_until is before valid_from")
    source = draft.source.strip()
    if not 1 <= len(source) <= 128:
        raise Invalid("source must be 1–128 characters (e.g. the application number)")
    issued_at = (draft.issued_at or now).astimezone(UTC).replace(microsecond=0)
    prefix = known.prefix if known else licence_type.replace("_", "")[:6].upper()
    number = draft.number or new_number(prefix, issued_at.year)
    if draft.number and not valid_number_format(number):
        raise Invalid(f"licence number {number!r} is not of the form PREFIX-YYYY-XXXXXXXXXXC with a valid check character")
    row: dict[str, Any] = {
        "number": number, "licence_type": licence_type, "type_name": type_name, "holder_kind": holder_kind,
        "holder_id": holder_id, "holder_name": holder_name, "issuing_department_code": draft.issuing_department_code,
        "valid_from": draft.valid_from, "valid_until": draft.valid_until, "status": "valid",
        "data": _plain_data(draft.data), "source": source, "issued_at": issued_at,
        "salt": draft.salt or secrets.token_hex(16), "signing_key_id": signer_kid,
        "created_at": issued_at, "updated_at": issued_at,
    }
    row["payload_hash"], row["signature"] = _seal(_payload(row), signer)
    return row


def _check_department(session: Session, code: str, known: set[str]) -> None:
    if code not in known:
        if get_department_by_code(session, code=code) is None:
            raise Invalid(f"no department with code {code!r}")
        known.add(code)


def issue_licence(
    session: Session, *, licence_type: str, holder_id: str, holder_name: str, issuing_department_code: str,
    valid_from: date, valid_until: date | None, data: dict[str, object], source: str, actor: Principal,
    type_name: str | None = None, number: str | None = None, issued_at: datetime | None = None,
) -> Licence:
    """Number, sign, store and audit one licence (``registries.licence.issue``)."""
    _authorize_issue(actor, issuing_department_code)
    _check_department(session, issuing_department_code, set())
    if number is not None and get_licence(session, number) is not None:
        raise Conflict(f"licence number {number} is already taken")
    signer = licence_signer()
    draft = LicenceDraft(licence_type, holder_id, holder_name, issuing_department_code, valid_from, valid_until,
                         data, source, type_name, number, issued_at)
    row = _row(session, draft, register_signer(session, signer), signer, utcnow())
    licence = Licence(**row)
    session.add(licence)
    session.flush()
    audit.record(session, actor=actor, action="registries.licence.issue", subject=f"licence:{licence.number}",
                 details={"type": licence.licence_type, "issuer": licence.issuing_department_code,
                          "holder_kind": licence.holder_kind, "source": licence.source,
                          "payload_hash": licence.payload_hash},
                 content_hash=bytes.fromhex(licence.payload_hash))
    return licence


def issue_licences(session: Session, drafts: Sequence[LicenceDraft], *, actor: Principal) -> int:
    """Bulk issue (imports, the demo): every draft is checked first, then one insert and ONE audit entry
    (``registries.licence.issue_batch``) whose content hash is SM3 over the licences' payload hashes in order."""
    signer = licence_signer()
    kid = register_signer(session, signer)
    now, departments, holders = utcnow(), set[str](), dict[str, tuple[str, str]]()
    rows = []
    for draft in drafts:
        if draft.issuing_department_code not in departments:
            _authorize_issue(actor, draft.issuing_department_code)
            _check_department(session, draft.issuing_department_code, departments)
        rows.append(_row(session, draft, kid, signer, now, holders))
    if not rows:
        return 0
    table = Licence.__table__
    assert isinstance(table, Table)
    for start in range(0, len(rows), 2000):
        session.execute(insert(table), rows[start:start + 2000])
    by_type: dict[str, int] = {}
    for r in rows:
        by_type[r["licence_type"]] = by_type.get(r["licence_type"], 0) + 1
    digest = hasher("sm3").hash(b"".join(bytes.fromhex(r["payload_hash"]) for r in rows))
    audit.record(session, actor=actor, action="registries.licence.issue_batch", subject=f"licence:{rows[0]['number']}",
                 details={"count": len(rows), "by_type": by_type, "first": rows[0]["number"], "last": rows[-1]["number"],
                          "sources": sorted({r["source"] for r in rows})[:20]},
                 content_hash=digest)
    return len(rows)


# ---- reading -----------------------------------------------------------------------------------

def get_licence(session: Session, number: str) -> Licence | None:
    return session.scalar(select(Licence).where(Licence.number == number.strip().upper()))


def get_licence_or_raise(session: Session, number: str) -> Licence:
    licence = get_licence(session, number)
    if licence is None:
        raise NotFound(f"no licence numbered {number}")
    return licence


def licences_of(session: Session, holder_id: str, licence_type: str | None = None) -> list[Licence]:
    """Every licence of a holder (newest first), revoked and expired ones included: check ``state``."""
    statement = select(Licence).where(Licence.holder_id == "".join(holder_id.split()).upper())
    if licence_type:
        statement = statement.where(Licence.licence_type == licence_type)
    return list(session.scalars(statement.order_by(Licence.issued_at.desc(), Licence.id.desc())))


def state(licence: Licence, today: date | None = None) -> str:
    """valid | revoked | expired | not_yet_valid on ``today``."""
    today = today or date.today()
    if licence.status == "revoked":
        return "revoked"
    if licence.valid_from > today:
        return "not_yet_valid"
    if licence.valid_until is not None and licence.valid_until < today:
        return "expired"
    return "valid"


def is_holder(principal: Principal, licence: Licence) -> bool:
    return licence.holder_id in (principal.id_number, principal.credit_code)


def sees_in_clear(principal: Principal, licence: Licence) -> bool:
    """The holder, the issuing department's staff and administrators see a licence in full; others masked."""
    if is_holder(principal, licence):
        return True
    return principal.is_staff and (principal.department_code == licence.issuing_department_code or "admin" in principal.roles)


def read_licence(session: Session, *, number: str, reader: Principal) -> Licence:
    """One licence for its holder or for staff (audited ``registries.licence.read``)."""
    licence = get_licence_or_raise(session, number)
    if not (is_holder(reader, licence) or reader.has("registries:read")):
        raise NotFound(f"no licence numbered {number}")  # not the caller's: do not confirm it exists
    audit.record(session, actor=reader, action="registries.licence.read", subject=f"licence:{licence.number}",
                 result="clear" if sees_in_clear(reader, licence) else "masked")
    return licence


def read_own_licences(session: Session, *, reader: Principal) -> list[Licence]:
    """The caller's own licences: a citizen's by ID number, an enterprise's by credit code."""
    holder = reader.id_number or reader.credit_code
    if not holder:
        raise Forbidden("only a citizen or enterprise account linked to a registry record holds licences")
    audit.record(session, actor=reader, action="registries.licence.read_own", subject=f"holder:{reader.name}")
    return licences_of(session, holder)


def list_licences(
    session: Session, *, reader: Principal, page: PageParams, holder_id: str | None = None,
    licence_type: str | None = None, department: str | None = None, status: str | None = None,
) -> tuple[list[Licence], int]:
    """A page of licences for staff; audited (``registries.licence.list``)."""
    statement: Select[Licence] = select(Licence).order_by(Licence.id.desc())
    if holder_id:
        statement = statement.where(Licence.holder_id == holder_id.strip().upper())
    if licence_type:
        statement = statement.where(Licence.licence_type == licence_type)
    if department:
        statement = statement.where(Licence.issuing_department_code == department)
    if status == "revoked":
        statement = statement.where(Licence.status == "revoked")
    elif status == "expired":
        statement = statement.where(Licence.status == "valid", Licence.valid_until < date.today())
    elif status == "valid":
        statement = statement.where(
            Licence.status == "valid", Licence.valid_from <= date.today(),
            (Licence.valid_until.is_(None)) | (Licence.valid_until >= date.today()),
        )
    items, total = paginate(session, statement, page)
    audit.record(session, actor=reader, action="registries.licence.list", subject="registry:licence",
                 details={"holder_filter": bool(holder_id), "licence_type": licence_type, "department": department,
                          "status": status, "offset": page.offset, "returned": len(items)})
    return items, total


def counts_by_type(session: Session) -> dict[str, int]:
    return {t: int(n) for t, n in session.execute(
        select(Licence.licence_type, func.count()).group_by(Licence.licence_type).order_by(Licence.licence_type))}


# ---- revoking and verifying ----------------------------------------------------------------------

def revoke_licence(session: Session, *, number: str, reason: str, actor: Principal) -> Licence:
    """Revoke a licence (吊销/注销); audited. A revoked licence stays verifiable, as revoked."""
    licence = get_licence_or_raise(session, number)
    _authorize_issue(actor, licence.issuing_department_code)
    reason = reason.strip()
    if not 2 <= len(reason) <= 200:
        raise Invalid("a revocation needs a reason of 2–200 characters")
    if licence.status == "revoked":
        raise Conflict(f"licence {licence.number} was already revoked on {licence.revoked_at:%Y-%m-%d}")
    licence.status, licence.revoked_at, licence.revoked_reason = "revoked", utcnow(), reason
    licence.revoked_by = actor.name[:64]
    session.flush()
    audit.record(session, actor=actor, action="registries.licence.revoke", subject=f"licence:{licence.number}",
                 details={"reason": reason, "issuer": licence.issuing_department_code})
    return licence


def signature_valid(session: Session, licence: Licence) -> bool:
    """The stored signature verifies over the payload rebuilt from the row, with a registered key."""
    key = session.get(LicenceSigningKey, licence.signing_key_id)
    if key is None:
        return False
    public_key = bytes.fromhex(key.public_key)
    if key_id(public_key).hex() != key.key_id:
        return False
    payload = payload_of(licence)
    if payload_hash(payload) != licence.payload_hash:
        return False
    return verify_signature(public_key, bytes.fromhex(licence.signature), signed_bytes(payload))


def _masked_holder(licence: Licence) -> tuple[str, str]:
    name = mask("name", licence.holder_name) or ""
    masked_id = mask("id_number", licence.holder_id) or ""
    return name, masked_id


def verify_licence(session: Session, number: str, *, actor: Principal | str = "public-verify") -> LicenceVerification:
    """Is the licence genuine and in force? Reveals only the masked holder and the validity; audited."""
    text = "".join(number.split()).upper()
    licence = get_licence(session, text) if 8 <= len(text) <= 40 else None
    checked_at = utcnow()
    if licence is None:
        audit.record(session, actor=actor, action="registries.licence.verify", subject=f"licence:{text[:40] or '-'}",
                     result="not_found", details={"well_formed": valid_number_format(text)})
        return LicenceVerification(number=text, found=False, genuine=False, valid=False, status="not_found",
                                   checked_at=checked_at)
    genuine = signature_valid(session, licence)
    status = state(licence) if genuine else "tampered"
    holder_name, holder_id = _masked_holder(licence)
    department = get_department_by_code(session, code=licence.issuing_department_code)
    audit.record(session, actor=actor, action="registries.licence.verify", subject=f"licence:{licence.number}",
                 result=status)
    return LicenceVerification(
        number=licence.number, found=True, genuine=genuine, valid=genuine and status == "valid", status=status,
        licence_type=licence.licence_type, type_name=licence.type_name, holder_name_masked=holder_name,
        holder_id_masked=holder_id, issuing_department_code=licence.issuing_department_code,
        issuing_department_name=department.name if department else None, valid_from=licence.valid_from,
        valid_until=licence.valid_until, issued_at=licence.issued_at,
        revoked_at=licence.revoked_at, payload_hash=licence.payload_hash, signing_key_id=licence.signing_key_id,
        signature=licence.signature, checked_at=checked_at,
    )


def signing_keys(session: Session) -> list[LicenceSigningKey]:
    return list(session.scalars(select(LicenceSigningKey).order_by(LicenceSigningKey.created_at)))
