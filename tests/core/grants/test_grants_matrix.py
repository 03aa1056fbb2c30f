"""Every role × grade × purpose × grant state, with the expected outcome written out cell by cell.

The resource is the police bureau's (gaj) household register at each grade, with one field per
grade up to its own (district L1, household_size L2, id_number L3, phone L4). The grant, when
there is one, is held by the caller's department (gjj for non-staff, who have none), for the
purpose ``housing-fund-loan-review``, ceiling L4, every field. The caller asks with that
purpose ("match") or with ``marketing`` ("other").

Outcomes: ``C`` allowed, every field clear · ``M`` allowed, L1/L2 fields clear, L3/L4 fields
masked (partial) · ``D`` denied, no field.
"""

from __future__ import annotations

import itertools
from typing import get_args

import pytest
from grants_fixtures import *  # noqa: F403 — the fixtures
from grants_helpers import (
    FIELDS_BY_GRADE,
    OTHER,
    OTHER_PURPOSE,
    PURPOSE,
    RESOURCE_KEY,
    ROLES,
    State,
    add_grant,
    decisions,
    resource,
)
from sqlalchemy.orm import Session

from xingcheng.core.grants.policy import GRADES, FieldTreatment
from xingcheng.core.grants.service import can_read
from xingcheng.core.types import Grade

STATES: tuple[State, ...] = ("none", "active", "expired", "revoked")
PURPOSES = ("match", "other")
COLUMNS = list(itertools.product(STATES, PURPOSES))

#                      grant:  none     active   expired  revoked
#                    purpose:  mt ot    mt ot    mt ot    mt ot
MATRIX = """
    admin           L1         C  C     C  C     C  C     C  C
    admin           L2         C  C     C  C     C  C     C  C
    admin           L3         D  D     M  D     D  D     D  D
    admin           L4         D  D     M  D     D  D     D  D
    data_steward    L1         C  C     C  C     C  C     C  C
    data_steward    L2         C  C     C  C     C  C     C  C
    data_steward    L3         D  D     M  D     D  D     D  D
    data_steward    L4         D  D     M  D     D  D     D  D
    staff_owner     L1         C  C     C  C     C  C     C  C
    staff_owner     L2         C  C     C  C     C  C     C  C
    staff_owner     L3         C  C     C  C     C  C     C  C
    staff_owner     L4         C  C     C  C     C  C     C  C
    staff_other     L1         C  C     C  C     C  C     C  C
    staff_other     L2         C  C     C  C     C  C     C  C
    staff_other     L3         D  D     M  D     D  D     D  D
    staff_other     L4         D  D     M  D     D  D     D  D
    operator        L1         C  C     C  C     C  C     C  C
    operator        L2         C  C     C  C     C  C     C  C
    operator        L3         D  D     M  D     D  D     D  D
    operator        L4         D  D     M  D     D  D     D  D
    citizen         L1         C  C     C  C     C  C     C  C
    citizen         L2         D  D     D  D     D  D     D  D
    citizen         L3         D  D     D  D     D  D     D  D
    citizen         L4         D  D     D  D     D  D     D  D
    enterprise      L1         C  C     C  C     C  C     C  C
    enterprise      L2         D  D     D  D     D  D     D  D
    enterprise      L3         D  D     D  D     D  D     D  D
    enterprise      L4         D  D     D  D     D  D     D  D
    device          L1         C  C     C  C     C  C     C  C
    device          L2         D  D     D  D     D  D     D  D
    device          L3         D  D     D  D     D  D     D  D
    device          L4         D  D     D  D     D  D     D  D
    anonymous       L1         C  C     C  C     C  C     C  C
    anonymous       L2         D  D     D  D     D  D     D  D
    anonymous       L3         D  D     D  D     D  D     D  D
    anonymous       L4         D  D     D  D     D  D     D  D
"""


def parse(matrix: str) -> dict[tuple[str, str, str, str], str]:
    cells: dict[tuple[str, str, str, str], str] = {}
    for line in matrix.strip().splitlines():
        role, grade, *outcomes = line.split()
        assert len(outcomes) == len(COLUMNS), line
        for (state, purpose), outcome in zip(COLUMNS, outcomes, strict=True):
            assert (role, grade, state, purpose) not in cells, f"cell given twice: {line}"
            cells[(role, grade, state, purpose)] = outcome
    return cells


CELLS = parse(MATRIX)


def test_the_table_covers_the_full_product_and_nothing_else() -> None:
    product = set(itertools.product(ROLES, GRADES, STATES, PURPOSES))
    assert set(CELLS) == product
    assert len(CELLS) == len(ROLES) * 4 * 4 * 2 == 288
    assert set(CELLS.values()) == {"C", "M", "D"}
    assert set(STATES) | {"pending"} == set(get_args(State))  # pending: test_grants_rules.py


def expected_fields(outcome: str, grade: Grade) -> dict[str, FieldTreatment]:
    if outcome == "D":
        return {}
    fields = {}
    for g, (name, spec) in FIELDS_BY_GRADE.items():
        if g <= grade:
            sensitive = outcome == "M" and g in ("L3", "L4")
            fields[name] = FieldTreatment("masked", "partial", spec.kind) if sensitive else FieldTreatment("clear", kind=spec.kind)
    return fields


def check_cell(session: Session, role: str, grade: Grade, state: State, purpose: str) -> None:
    outcome = CELLS[(role, grade, state, purpose)]
    principal = ROLES[role]
    department = principal.department_code if principal is not None and principal.department_code else OTHER
    grant = add_grant(session, state=state, department=department)
    before = len(decisions(session))
    decision = can_read(session, principal, resource(grade), PURPOSE if purpose == "match" else OTHER_PURPOSE)

    assert decision.allowed is (outcome != "D"), decision.reason
    assert dict(decision.fields) == expected_fields(outcome, grade), decision.reason
    assert decision.reason.startswith("allowed" if outcome != "D" else "denied")
    assert decision.grant_ids == ((grant.id,) if outcome == "M" and grant is not None else ())
    entries = decisions(session)
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.subject, entry.result) == (RESOURCE_KEY, "allowed" if outcome != "D" else "denied")
    assert entry.actor_name == (principal.name if principal is not None else "anonymous")
    assert entry.details is not None and entry.details["reason"] == decision.reason


@pytest.mark.parametrize(("role", "grade", "state", "purpose"), sorted(CELLS))
def test_cell(session: Session, role: str, grade: Grade, state: State, purpose: str) -> None:
    check_cell(session, role, grade, state, purpose)


PG_SUBSET = [*sorted(c for c in CELLS if c[0] in ("staff_other", "admin") and c[1] in ("L3", "L4")), ("staff_owner", "L4", "none", "other"), ("citizen", "L2", "active", "match"), ("anonymous", "L1", "none", "match")]


@pytest.mark.postgres
@pytest.mark.parametrize(("role", "grade", "state", "purpose"), PG_SUBSET)
def test_cell_on_postgresql(pg_session: Session, role: str, grade: Grade, state: State, purpose: str) -> None:
    check_cell(pg_session, role, grade, state, purpose)
