"""Data grading (L1 公开 … L4 核心) and grants: who may read which fields of a resource, for what purpose.

``policy`` holds the rules (documented there) as a pure function over plain descriptors;
``service.can_read`` loads the caller's grants, decides and writes the decision to the audit ledger.
"""

from xingcheng.core.grants.policy import (
    GRADE_LABELS,
    GRADES,
    AccessDecision,
    FieldSpec,
    FieldTreatment,
    GradePolicy,
    ResourceDescriptor,
)

__all__ = [
    "GRADES",
    "GRADE_LABELS",
    "AccessDecision",
    "FieldSpec",
    "FieldTreatment",
    "GradePolicy",
    "ResourceDescriptor",
]
