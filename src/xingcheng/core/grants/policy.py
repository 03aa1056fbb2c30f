"""Who may read what: the grade rules as one pure function over plain descriptors.

Grades (数据分级): L1 公开 public, L2 内部 internal, L3 敏感 sensitive, L4 核心 core. A resource
(the catalogue builds its ``ResourceDescriptor``) has a grade and per-field grades and kinds; a
resource's grade is at least its highest field grade (the descriptor refuses anything else).

The rules, in the order they are applied:

1. **L1** — anyone reads it, anonymous callers, citizens, enterprises and devices included. All clear.
2. **L2** — any staff member (any staff role, any department). Non-staff callers are denied.
3. **L3 / L4** need a stated purpose; without one the read is denied. Then:

   a. **Owning department**: staff whose department is the resource's owner read every field
      in clear. The role does not matter — only department membership and grants do.
   b. **Other staff** need a grant that *applies*: issued to their department for this resource
      key and exactly this purpose, with ``valid_from <= now < expires_at`` and not revoked.
      Pending, expired and revoked grants never count, nor grants for another purpose; the
      denial names each of the department's grants that failed and why. Applicable grants add
      up field by field (the most open treatment wins). Per field:

      * L1/L2 fields: clear.
      * L3/L4 fields outside every applicable grant (not among its fields, or above its grade
        ceiling): withheld.
      * covered L3/L4 fields: masked at the ``partial`` level (430102********1234), or clear when
        the purpose is one of ``GradePolicy.clear_purposes`` (e.g. identity verification);
        a field whose kind cannot be masked (no personal-data kind) is withheld instead of
        being passed through.

      The read is allowed when at least one field is delivered; for a resource without field
      descriptions, when an applicable grant's ceiling reaches the resource's grade.
   c. **Non-staff** callers (citizens, enterprises, devices, anonymous) are denied; a grant is
      made to a department and never reaches them, even if a department code is set on them.

4. **No bypass**: ``admin`` and ``data_steward`` get nothing from their role for L3/L4
   (separation of duties: those who administer accounts or issue grants do not read sensitive
   data by virtue of it). They read L3/L4 like any staff member — as owner staff or by grant.
   The grants service adds the other half: nobody issues a grant to their own department.

Fields a caller asks for that the descriptor does not list are withheld: an undescribed column
never leaks. Every decision is written to the audit ledger by ``service.can_read``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, cast, get_args

from pydantic import BaseModel, ConfigDict, Field

from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden
from xingcheng.core.masking import FIELD_KINDS, MaskLevel, mask, mask_table
from xingcheng.core.types import Grade

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

GRADES: tuple[Grade, ...] = get_args(Grade)
GRADE_LABELS: dict[str, str] = {"L1": "public", "L2": "internal", "L3": "sensitive", "L4": "core"}
GRADE_LABELS_ZH: dict[str, str] = {"L1": "公开", "L2": "内部", "L3": "敏感", "L4": "核心"}
Action = Literal["clear", "masked", "withheld"]
Basis = Literal["public", "staff", "owner", "grant", "none"]
GrantState = Literal["pending", "active", "expired", "revoked"]


def rank(grade: str) -> int:
    if grade not in GRADES:
        raise ValueError(f"unknown grade {grade!r}; expected one of {', '.join(GRADES)}")
    return int(grade[1])


def describe_grade(grade: str) -> str:
    return f"{grade} ({GRADE_LABELS[grade]})"


class GradePolicy(BaseModel):
    """Settings of the grade rules (``XC_GRANTS__CLEAR_PURPOSES='["identity-verification"]'``)."""

    model_config = ConfigDict(frozen=True)

    clear_purposes: frozenset[str] = Field(
        default=frozenset(), description="purposes for which fields covered by a grant are delivered in clear, not masked"
    )


class FieldSpec(NamedTuple):
    grade: Grade
    kind: str | None = None  # a masking kind (id_number, name, ...); None: nothing to mask by


@dataclass(frozen=True)
class ResourceDescriptor:
    """What the authorization check needs to know of a resource, and nothing else."""

    key: str
    owner_department_code: str
    grade: Grade
    fields: Mapping[str, FieldSpec | tuple[Grade, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.key or not self.owner_department_code:
            raise ValueError("a resource needs a key and an owning department")
        rank(self.grade)
        specs = {name: FieldSpec(*spec) for name, spec in self.fields.items()}
        for name, spec in specs.items():
            if rank(spec.grade) > rank(self.grade):
                raise ValueError(f"field {name!r} is {spec.grade} but resource {self.key!r} is only {self.grade}: "
                                 "a resource takes the grade of its most sensitive field")
            if spec.kind is not None and spec.kind not in FIELD_KINDS:
                raise ValueError(f"field {name!r} has unknown kind {spec.kind!r}; expected one of {', '.join(FIELD_KINDS)}")
        object.__setattr__(self, "fields", MappingProxyType(specs))

    def spec(self, name: str) -> FieldSpec:
        return cast(FieldSpec, self.fields[name])


@dataclass(frozen=True)
class FieldTreatment:
    action: Action
    level: MaskLevel | None = None  # set when masked
    kind: str | None = None
    note: str = ""  # why, when withheld


WITHHELD = FieldTreatment("withheld", note="not described by the resource")


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reason: str
    resource_key: str
    grade: Grade
    purpose: str
    basis: Basis
    fields: Mapping[str, FieldTreatment] = field(default_factory=dict)
    grant_ids: tuple[int, ...] = ()

    def treatment(self, name: str) -> FieldTreatment:
        return self.fields.get(name, WITHHELD) if self.allowed else WITHHELD

    def require(self) -> AccessDecision:
        if not self.allowed:
            raise Forbidden(self.reason)
        return self

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """``row`` as this decision lets it out: withheld fields dropped, masked fields masked."""
        self.require()
        out: dict[str, Any] = {}
        for name, value in row.items():
            treatment = self.treatment(name)
            if treatment.action == "clear":
                out[name] = value
            elif treatment.action == "masked" and treatment.kind and treatment.level:
                out[name] = mask(treatment.kind, None if value is None else str(value), treatment.level)
        return out

    def apply_table(self, table: pa.Table) -> pa.Table:
        """The Arrow form of ``apply``: withheld columns dropped, masked ones masked in bulk."""
        self.require()
        keep = [n for n in table.column_names if self.treatment(n).action != "withheld"]
        masked = {n: self.treatment(n) for n in keep if self.treatment(n).action == "masked"}
        return mask_table(table.select(keep), {n: str(t.kind) for n, t in masked.items()},
                          {n: cast(MaskLevel, t.level) for n, t in masked.items()})

    def audit_details(self) -> dict[str, Any]:
        fields = {name: t.action if t.action != "masked" else f"masked:{t.level}" for name, t in self.fields.items()}
        return {"grade": self.grade, "basis": self.basis, "reason": self.reason, "grant_ids": list(self.grant_ids),
                "fields": fields}


class GrantTerms(Protocol):
    """The parts of a grant the rules read (the ORM row satisfies it)."""

    @property
    def id(self) -> int: ...
    @property
    def resource_key(self) -> str: ...
    @property
    def grantee_department_code(self) -> str: ...
    @property
    def fields(self) -> list[str] | None: ...
    @property
    def grade_ceiling(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def valid_from(self) -> datetime: ...
    @property
    def expires_at(self) -> datetime: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def grant_state(grant: GrantTerms, now: datetime) -> GrantState:
    if grant.revoked_at is not None:
        return "revoked"
    if now < grant.valid_from:
        return "pending"
    return "expired" if now >= grant.expires_at else "active"


def describe(principal: Principal | None) -> str:
    if principal is None or principal.kind == "anonymous":
        return "an anonymous caller"
    if not principal.roles:
        return f"{principal.kind} {principal.name!r} (no roles)"
    if principal.is_staff:
        where = f"department {principal.department_code!r}" if principal.department_code else "no department"
        return f"staff {principal.name!r} ({', '.join(sorted(principal.roles))}) of {where}"
    return f"{principal.kind} {principal.name!r} ({', '.join(sorted(principal.roles))})"


def _why_not(grant: GrantTerms, purpose: str, now: datetime) -> str:
    state = grant_state(grant, now)
    if state == "revoked":
        return f"#{grant.id} was revoked at {grant.revoked_at:%Y-%m-%d %H:%M}Z"
    if state == "expired":
        return f"#{grant.id} expired at {grant.expires_at:%Y-%m-%d %H:%M}Z"
    if state == "pending":
        return f"#{grant.id} starts at {grant.valid_from:%Y-%m-%d %H:%M}Z"
    return f"#{grant.id} is for purpose {grant.purpose!r}"


def _grant_field(name: str, spec: FieldSpec, grants: Sequence[GrantTerms], purpose: str, policy: GradePolicy) -> FieldTreatment:
    if rank(spec.grade) <= 2:
        return FieldTreatment("clear", kind=spec.kind)
    listed = [g for g in grants if g.fields is None or name in g.fields]
    if not listed:
        return FieldTreatment("withheld", kind=spec.kind, note="not among the granted fields")
    if not any(rank(spec.grade) <= rank(g.grade_ceiling) for g in listed):
        ceiling = max((g.grade_ceiling for g in listed), key=rank)
        return FieldTreatment("withheld", kind=spec.kind, note=f"{spec.grade} is above the grant ceiling {ceiling}")
    if purpose in policy.clear_purposes:
        return FieldTreatment("clear", kind=spec.kind)
    if spec.kind is None:
        return FieldTreatment("withheld", kind=None, note="cannot be masked (no personal-data kind)")
    return FieldTreatment("masked", level="partial", kind=spec.kind)


def decide(principal: Principal | None, resource: ResourceDescriptor, purpose: str, grants: Sequence[GrantTerms], *,
           now: datetime, policy: GradePolicy | None = None) -> AccessDecision:
    """Apply the rules above. ``grants`` are the caller's department's grants for the resource, any state."""
    policy = policy or GradePolicy()
    purpose = purpose.strip()
    who, grade, key = describe(principal), resource.grade, resource.key
    names = list(resource.fields)

    def result(allowed: bool, reason: str, basis: Basis, fields: Mapping[str, FieldTreatment] | None = None,
               grant_ids: tuple[int, ...] = ()) -> AccessDecision:
        if fields is None:
            fields = {n: FieldTreatment("clear", kind=resource.spec(n).kind) for n in names} if allowed else {}
        return AccessDecision(allowed, reason, key, grade, purpose, basis, MappingProxyType(dict(fields)), grant_ids)

    staff = principal is not None and principal.is_staff
    department = principal.department_code if principal is not None and staff else None
    if grade == "L1":
        return result(True, f"allowed: {key!r} is {describe_grade(grade)}, readable by anyone", "public")
    if not staff:
        owner = resource.owner_department_code
        needs = "staff" if grade == "L2" else f"staff of the owning department {owner!r} or of a granted department"
        return result(False, f"denied: {key!r} is {describe_grade(grade)} and needs {needs}; {who} is not staff", "none")
    if grade == "L2":
        return result(True, f"allowed: {key!r} is {describe_grade(grade)} and {who} is staff", "staff")
    if not purpose:
        return result(False, f"denied: reading {describe_grade(grade)} data requires a stated purpose", "none")
    if department == resource.owner_department_code:
        return result(True, f"allowed: {who} belongs to the owning department of {key!r}", "owner")
    mine = [g for g in grants if g.resource_key == key and department and g.grantee_department_code == department]
    applicable = [g for g in mine if grant_state(g, now) == "active" and g.purpose == purpose]
    if not applicable:
        if not mine:
            why = f"department {department!r} holds no grant for it" if department else "they belong to no department"
        else:
            why = f"the grants of department {department!r} do not apply: " + "; ".join(_why_not(g, purpose, now) for g in mine)
        return result(False, f"denied: {key!r} is {describe_grade(grade)}, owned by {resource.owner_department_code!r}, "
                             f"and {who} reads it for purpose {purpose!r}, but {why}", "none")
    ids = tuple(sorted(g.id for g in applicable))
    numbers = ", ".join(f"#{i}" for i in ids)
    granted = f"grant{'s' if len(ids) > 1 else ''} {numbers} to department {department!r} for purpose {purpose!r}"
    if not names:
        best = max((g.grade_ceiling for g in applicable), key=rank)
        if rank(best) >= rank(grade):
            return result(True, f"allowed by {granted} (ceiling {best})", "grant", {}, ids)
        return result(False, f"denied: {key!r} is {grade} but {granted} reaches only {best}", "none", {}, ids)
    treatments = {n: _grant_field(n, resource.spec(n), applicable, purpose, policy) for n in names}
    withheld = [f"{n} ({t.note})" for n, t in treatments.items() if t.action == "withheld"]
    if len(withheld) == len(names):
        return result(False, f"denied: {granted} covers none of the fields of {key!r}: {', '.join(withheld)}", "none", {}, ids)
    masked = [n for n, t in treatments.items() if t.action == "masked"]
    detail = (f"; masked: {', '.join(masked)}" if masked else "") + (f"; withheld: {', '.join(withheld)}" if withheld else "")
    return result(True, f"allowed by {granted}{detail}", "grant", treatments, ids)
