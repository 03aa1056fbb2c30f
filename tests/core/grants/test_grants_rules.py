"""The rules beyond the matrix: ceilings, field lists, several grants, clear purposes, unmaskable
fields, pending grants, purposes, descriptors, precise reasons, and applying a decision."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from grants_fixtures import *  # noqa: F403 — the fixtures
from grants_helpers import OTHER, OWNER, PURPOSE, RESOURCE_KEY, ROLES, add_grant, decisions, resource
from sqlalchemy.orm import Session

from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Forbidden
from xingcheng.core.grants.policy import FieldSpec, FieldTreatment, GradePolicy, ResourceDescriptor
from xingcheng.core.grants.service import can_read

FUND_CLERK = ROLES["staff_other"]
ROW = {"district": "岳麓区", "household_size": 3, "id_number": "430102199001011234", "phone": "13812345678", "note": "x"}


def actions(decision: object) -> dict[str, str]:
    return {n: t.action if t.action != "masked" else f"masked:{t.level}" for n, t in decision.fields.items()}  # type: ignore[attr-defined]


def test_fields_above_the_ceiling_are_withheld(session: Session) -> None:
    grant = add_grant(session, ceiling="L3")
    decision = can_read(session, FUND_CLERK, resource("L4"), PURPOSE)
    assert decision.allowed
    assert actions(decision) == {"district": "clear", "household_size": "clear", "id_number": "masked:partial",
                                 "phone": "withheld"}
    assert decision.fields["phone"].note == "L4 is above the grant ceiling L3"
    assert decision.reason == (
        f"allowed by grant #{grant.id} to department 'gjj' for purpose 'housing-fund-loan-review'; "  # type: ignore[union-attr]
        "masked: id_number; withheld: phone (L4 is above the grant ceiling L3)")


def test_fields_outside_the_granted_list_are_withheld(session: Session) -> None:
    add_grant(session, fields=["id_number"])
    decision = can_read(session, FUND_CLERK, resource("L4"), PURPOSE)
    assert actions(decision)["phone"] == "withheld" and actions(decision)["id_number"] == "masked:partial"
    assert decision.fields["phone"].note == "not among the granted fields"


def test_applicable_grants_add_up_field_by_field(session: Session) -> None:
    first = add_grant(session, fields=["id_number"], ceiling="L3")
    second = add_grant(session, fields=["phone"], ceiling="L4")
    decision = can_read(session, FUND_CLERK, resource("L4"), PURPOSE)
    assert actions(decision) == {"district": "clear", "household_size": "clear", "id_number": "masked:partial",
                                 "phone": "masked:partial"}
    assert decision.grant_ids == (first.id, second.id)  # type: ignore[union-attr]
    assert "grants #" in decision.reason


def test_clear_purposes_deliver_covered_fields_in_clear(session: Session) -> None:
    add_grant(session, purpose="identity-verification", ceiling="L3")
    policy = GradePolicy(clear_purposes=frozenset({"identity-verification"}))
    decision = can_read(session, FUND_CLERK, resource("L4"), "identity-verification", policy=policy)
    assert actions(decision) == {"district": "clear", "household_size": "clear", "id_number": "clear", "phone": "withheld"}


def test_a_field_that_cannot_be_masked_is_withheld_not_passed_through(session: Session) -> None:
    add_grant(session)
    described = ResourceDescriptor(RESOURCE_KEY, OWNER, "L3", {"district": ("L1", None), "criminal_record": ("L3", None)})
    decision = can_read(session, FUND_CLERK, described, PURPOSE)
    assert actions(decision) == {"district": "clear", "criminal_record": "withheld"}
    assert decision.fields["criminal_record"].note == "cannot be masked (no personal-data kind)"


def test_a_grant_covering_no_field_denies(session: Session) -> None:
    grant = add_grant(session, ceiling="L2")
    only_sensitive = ResourceDescriptor(RESOURCE_KEY, OWNER, "L3", {"id_number": FieldSpec("L3", "id_number")})
    decision = can_read(session, FUND_CLERK, only_sensitive, PURPOSE)
    assert not decision.allowed and decision.fields == {}
    assert decision.reason == (
        f"denied: grant #{grant.id} to department 'gjj' for purpose 'housing-fund-loan-review' covers none of "  # type: ignore[union-attr]
        "the fields of 'gaj/household-register': id_number (L3 is above the grant ceiling L2)")


def test_resources_without_field_descriptions_need_the_ceiling(session: Session) -> None:
    add_grant(session, ceiling="L3")
    blob = ResourceDescriptor("gaj/photos", OWNER, "L4")
    add_grant(session, key="gaj/photos", ceiling="L3")
    assert not can_read(session, FUND_CLERK, blob, PURPOSE).allowed
    add_grant(session, key="gaj/photos", ceiling="L4", purpose="other-purpose")
    assert can_read(session, FUND_CLERK, blob, "other-purpose").allowed


def test_denials_name_every_grant_that_failed_and_why(session: Session) -> None:
    now = utcnow()
    expired = add_grant(session, state="expired", now=now)
    revoked = add_grant(session, state="revoked", now=now)
    pending = add_grant(session, state="pending", now=now)
    other = add_grant(session, purpose="statistics", now=now)
    add_grant(session, key="gaj/other-dataset", now=now)  # another resource: not mentioned
    decision = can_read(session, FUND_CLERK, resource("L3"), PURPOSE, now=now)
    assert not decision.allowed
    assert decision.reason == (
        "denied: 'gaj/household-register' is L3 (sensitive), owned by 'gaj', and staff 'fund-clerk' (department_staff) "
        "of department 'gjj' reads it for purpose 'housing-fund-loan-review', but the grants of department 'gjj' do not apply: "
        f"#{expired.id} expired at {expired.expires_at:%Y-%m-%d %H:%M}Z; "  # type: ignore[union-attr]
        f"#{revoked.id} was revoked at {revoked.revoked_at:%Y-%m-%d %H:%M}Z; "  # type: ignore[union-attr]
        f"#{pending.id} starts at {pending.valid_from:%Y-%m-%d %H:%M}Z; "  # type: ignore[union-attr]
        f"#{other.id} is for purpose 'statistics'")  # type: ignore[union-attr]


def test_a_pending_grant_applies_once_it_starts(session: Session) -> None:
    now = utcnow()
    grant = add_grant(session, state="pending", now=now)
    assert not can_read(session, FUND_CLERK, resource("L3"), PURPOSE, now=now).allowed
    assert can_read(session, FUND_CLERK, resource("L3"), PURPOSE, now=grant.valid_from + timedelta(seconds=1)).allowed  # type: ignore[union-attr]
    assert not can_read(session, FUND_CLERK, resource("L3"), PURPOSE, now=grant.expires_at).allowed  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["staff_owner", "staff_other"])
def test_sensitive_reads_need_a_purpose(session: Session, role: str) -> None:
    add_grant(session, purpose=" ")
    decision = can_read(session, ROLES[role], resource("L3"), "  ")
    assert not decision.allowed and decision.reason == "denied: reading L3 (sensitive) data requires a stated purpose"
    assert can_read(session, ROLES[role], resource("L2"), "").allowed


def test_an_admin_of_the_owning_department_reads_as_owner_staff(session: Session) -> None:
    admin_of_owner = Principal(kind="staff", name="gaj-admin", roles=frozenset({"admin"}), department_code=OWNER)
    decision = can_read(session, admin_of_owner, resource("L4"), PURPOSE)
    assert decision.allowed and decision.basis == "owner" and set(actions(decision).values()) == {"clear"}


def test_non_staff_never_benefit_from_a_grant_even_with_a_department_code(session: Session) -> None:
    add_grant(session, department=OTHER)
    spoofed = Principal(kind="citizen", name="zhangsan", roles=frozenset({"citizen"}), department_code=OTHER)
    decision = can_read(session, spoofed, resource("L3"), PURPOSE)
    assert not decision.allowed
    assert decision.reason.endswith("citizen 'zhangsan' (citizen) is not staff")


def test_staff_without_department_and_the_system_principal(session: Session) -> None:
    loose = Principal(kind="staff", name="temp", roles=frozenset({"department_staff"}))
    assert can_read(session, loose, resource("L2"), PURPOSE).allowed
    decision = can_read(session, loose, resource("L3"), PURPOSE)
    assert not decision.allowed and decision.reason.endswith("but they belong to no department")
    assert not can_read(session, SYSTEM, resource("L3"), PURPOSE).allowed  # no bypass for system jobs either


def test_every_decision_is_audited_with_its_details(session: Session) -> None:
    add_grant(session, ceiling="L3")
    can_read(session, FUND_CLERK, resource("L4"), PURPOSE)
    can_read(session, None, resource("L2"), "browsing")
    allowed, denied = decisions(session)[-2:]
    assert (allowed.actor_kind, allowed.actor_name, allowed.action, allowed.purpose, allowed.result) == (
        "staff", "fund-clerk", "grant.decide", PURPOSE, "allowed")
    assert allowed.details is not None
    assert allowed.details["fields"] == {"district": "clear", "household_size": "clear", "id_number": "masked:partial",
                                         "phone": "withheld"}
    assert allowed.details["basis"] == "grant" and allowed.details["grade"] == "L4"
    assert (denied.actor_kind, denied.actor_name, denied.result) == ("anonymous", "anonymous", "denied")


def test_descriptors_refuse_inconsistent_grades_and_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="a resource takes the grade of its most sensitive field"):
        ResourceDescriptor(RESOURCE_KEY, OWNER, "L2", {"id_number": ("L3", "id_number")})
    with pytest.raises(ValueError, match="unknown kind 'credit_code'"):
        ResourceDescriptor(RESOURCE_KEY, OWNER, "L3", {"code": ("L3", "credit_code")})
    with pytest.raises(ValueError, match="unknown grade 'L5'"):
        ResourceDescriptor(RESOURCE_KEY, OWNER, "L5")  # type: ignore[arg-type]
    described = ResourceDescriptor(RESOURCE_KEY, OWNER, "L3", {"id_number": ("L3", "id_number")})
    assert described.fields["id_number"] == FieldSpec("L3", "id_number")


def test_applying_a_decision_to_rows_and_tables(session: Session) -> None:
    add_grant(session, ceiling="L3")
    decision = can_read(session, FUND_CLERK, resource("L4"), PURPOSE)
    # Withheld (phone) and undescribed (note) fields are dropped; L3 masked.
    assert decision.apply(ROW) == {"district": "岳麓区", "household_size": 3, "id_number": "430102********1234"}
    table = pa.table({k: [v] for k, v in ROW.items()})
    assert decision.apply_table(table).to_pylist() == [decision.apply(ROW)]
    assert decision.treatment("note") == FieldTreatment("withheld", note="not described by the resource")
    denied = can_read(session, ROLES["citizen"], resource("L3"), PURPOSE)
    with pytest.raises(Forbidden, match="is not staff"):
        denied.apply(ROW)
