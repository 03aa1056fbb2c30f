"""Pydantic field types for Chinese national-standard identifiers.

Use these in API and settings models instead of plain ``str``: the value is
normalised (e.g. trailing ``x`` -> ``X``, ``+86`` stripped) and a bad value
becomes a validation error carrying the precise message from
:mod:`xingcheng.core.ids`.

No ``pattern`` constraint is attached on purpose: pydantic would apply it
before normalisation and reject inputs the validators accept (spaces,
lowercase, country prefixes).
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from xingcheng.core.ids import (
    validate_credit_code,
    validate_division_code,
    validate_id_number,
    validate_mobile,
)

__all__ = ["CreditCode", "DivisionCode", "Grade", "IdNumber", "MobilePhone"]

IdNumber = Annotated[
    str,
    AfterValidator(validate_id_number),
    Field(
        description="GB 11643-1999 18-character citizen ID number (公民身份号码)",
        examples=["11010519491231002X"],
    ),
]

CreditCode = Annotated[
    str,
    AfterValidator(validate_credit_code),
    Field(
        description="GB 32100-2015 unified social credit code (统一社会信用代码)",
        examples=["91110000600037341L"],
    ),
]

MobilePhone = Annotated[
    str,
    AfterValidator(validate_mobile),
    Field(
        description="Mainland China mobile number, normalised to 11 digits",
        examples=["13800138000"],
    ),
]

DivisionCode = Annotated[
    str,
    AfterValidator(validate_division_code),
    Field(
        description="GB/T 2260 6-digit administrative division code (行政区划代码)",
        examples=["430100"],
    ),
]

# Data classification grade (数据分级) label.
Grade = Literal["L1", "L2", "L3", "L4"]
