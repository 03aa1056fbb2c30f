"""Validators and generators for Chinese national-standard identifiers.

Covered standards:

* GB 11643-1999 citizen identity number (公民身份号码), 18 characters,
  check digit per ISO 7064 MOD 11-2.
* GB 32100-2015 unified social credit code (统一社会信用代码), 18 characters,
  embedding a GB 11714 organisation code and ending in a MOD 31 check character.
* GB/T 2260 administrative division codes (行政区划代码), checked at the
  province level only: the full code table changes every year and lives in
  data, not in this module.
* Mainland China mobile phone numbers.

Every ``validate_*`` function returns the normalised value or raises
``ValueError`` with a message meant to be shown to the person who typed the
value. The module is pure stdlib so that any layer (API schemas, demo-data
generation, import jobs) can use it.
"""

import re
from datetime import date
from typing import Final, Literal

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_ENTITY_TYPES",
    "PROVINCE_CODES",
    "credit_code_check_char",
    "id_number_birth_date",
    "id_number_check_digit",
    "id_number_division",
    "id_number_gender",
    "make_credit_code",
    "make_id_number",
    "organization_code_check_char",
    "validate_credit_code",
    "validate_division_code",
    "validate_id_number",
    "validate_mobile",
]

# First two digits of GB/T 2260 codes for the province-level divisions
# (provinces, autonomous regions, municipalities, Taiwan, Hong Kong, Macao).
PROVINCE_CODES: Final[frozenset[str]] = frozenset(
    [str(code) for code in range(11, 16)]
    + [str(code) for code in range(21, 24)]
    + [str(code) for code in range(31, 38)]
    + [str(code) for code in range(41, 47)]
    + [str(code) for code in range(50, 55)]
    + [str(code) for code in range(61, 66)]
    + ["71", "81", "82"]
)

_DIGITS: Final = frozenset("0123456789")


def _has_valid_province(code: str) -> bool:
    return code[:2] in PROVINCE_CODES


def validate_division_code(value: str) -> str:
    """Validate a 6-digit GB/T 2260 administrative division code.

    Only the province part is checked against a fixed list; lower levels are
    accepted as long as they are digits.
    """
    code = value.strip()
    if len(code) != 6 or not set(code) <= _DIGITS:
        raise ValueError(f"division code must be 6 digits, got {code!r}")
    if not _has_valid_province(code):
        raise ValueError(
            f"division code {code} does not start with a valid province code "
            f"({code[:2]})"
        )
    return code


# --------------------------------------------------------------------------
# GB 11643-1999 citizen identity number
# --------------------------------------------------------------------------

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Indexed by (weighted sum mod 11).
_ID_CHECK_CHARS: Final = "10X98765432"
_EARLIEST_BIRTH_DATE: Final = date(1900, 1, 1)


def id_number_check_digit(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for 17 digits."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise ValueError(
            f"expected the first 17 digits of an ID number, got {first17!r}"
        )
    total = sum(
        int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True)
    )
    return _ID_CHECK_CHARS[total % 11]


def _check_birth_date(birth_date: date, *, label: str) -> None:
    if birth_date < _EARLIEST_BIRTH_DATE:
        raise ValueError(f"{label} {birth_date.isoformat()} is before 1900-01-01")
    if birth_date > date.today():
        raise ValueError(f"{label} {birth_date.isoformat()} is in the future")


def validate_id_number(value: str) -> str:
    """Validate a GB 11643-1999 18-character citizen ID number.

    Spaces are removed and a trailing lowercase ``x`` is upper-cased. Checks,
    in order: length, character set, province part of the address code, birth
    date (a real date between 1900-01-01 and today), check digit.
    """
    number = "".join(value.split())
    if number.endswith("x"):
        number = number[:-1] + "X"
    if len(number) != 18:
        raise ValueError(f"ID number must be 18 characters, got {len(number)}")
    for position, char in enumerate(number[:17], start=1):
        if char not in _DIGITS:
            raise ValueError(
                "ID number must have digits in positions 1-17, "
                f"found {char!r} at position {position}"
            )
    if number[17] not in _DIGITS and number[17] != "X":
        raise ValueError(f"ID number must end with a digit or X, found {number[17]!r}")
    if not _has_valid_province(number):
        raise ValueError(
            f"ID number address code {number[:6]} does not start with a valid "
            f"province code ({number[:2]})"
        )
    birth_text = number[6:14]
    try:
        birth_date = date(
            int(birth_text[:4]), int(birth_text[4:6]), int(birth_text[6:])
        )
    except ValueError:
        raise ValueError(
            f"ID number birth date {birth_text} is not a valid date"
        ) from None
    _check_birth_date(birth_date, label="ID number birth date")
    expected = id_number_check_digit(number[:17])
    if number[17] != expected:
        raise ValueError(
            f"ID number check digit is {number[17]} but should be {expected}"
        )
    return number


def id_number_birth_date(value: str) -> date:
    """Return the birth date encoded in a valid ID number."""
    number = validate_id_number(value)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def id_number_gender(value: str) -> Literal["M", "F"]:
    """Return the gender encoded in a valid ID number: odd 17th digit is male."""
    number = validate_id_number(value)
    return "M" if int(number[16]) % 2 == 1 else "F"


def id_number_division(value: str) -> str:
    """Return the 6-digit address (division) code of a valid ID number."""
    return validate_id_number(value)[:6]


def make_id_number(
    division_code: str, birth_date: date, sequence: int, gender: Literal["M", "F"]
) -> str:
    """Build a valid ID number.

    ``sequence`` (0-499) selects one of the 500 order codes of the requested
    gender: the 3-digit order code is ``2 * sequence + 1`` for men and
    ``2 * sequence`` for women, so its parity encodes the gender as the
    standard requires.
    """
    division = validate_division_code(division_code)
    _check_birth_date(birth_date, label="birth date")
    if not 0 <= sequence <= 499:
        raise ValueError(f"sequence must be between 0 and 499, got {sequence}")
    if gender not in ("M", "F"):
        raise ValueError(f"gender must be 'M' or 'F', got {gender!r}")
    order_code = 2 * sequence + (1 if gender == "M" else 0)
    first17 = f"{division}{birth_date:%Y%m%d}{order_code:03d}"
    return first17 + id_number_check_digit(first17)


# --------------------------------------------------------------------------
# GB 32100-2015 unified social credit code
# --------------------------------------------------------------------------

# Digits and uppercase letters except I, O, S, V, Z (easily confused with
# 1, 0, 5, U, 2). A character's position here is its numeric value.
CREDIT_CODE_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS: Final = (
    1,
    3,
    9,
    27,
    19,
    26,
    16,
    17,
    20,
    29,
    25,
    13,
    8,
    24,
    10,
    30,
    28,
)

# Registration authority code (char 1) -> allowed entity type codes (char 2),
# from GB 32100-2015 table 1.
CREDIT_CODE_ENTITY_TYPES: Final[dict[str, frozenset[str]]] = {
    "1": frozenset("1239"),  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": frozenset("19"),  # 外交: 外国常驻新闻机构, 其他
    "3": frozenset(
        "123459"
    ),  # 司法行政: 律所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委, 其他
    "4": frozenset("19"),  # 文化: 外国在华文化中心, 其他
    "5": frozenset("1239"),  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": frozenset("129"),  # 旅游: 外国/港澳台旅游部门常驻代表机构, 其他
    "7": frozenset("129"),  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": frozenset("19"),  # 工会: 基层工会, 其他
    "9": frozenset("123"),  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
    "A": frozenset("19"),  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": frozenset("1239"),  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": frozenset("1"),  # 其他: not subdivided
}

# Registration at national level uses this in place of a GB/T 2260 code.
_NATIONAL_DIVISION_CODE: Final = "100000"

_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _org_char_value(char: str) -> int:
    # GB 11714: digits are worth themselves, letters A-Z are worth 10-35.
    return int(char, 36)


def organization_code_check_char(body8: str) -> str:
    """Return the GB 11714 check character for an 8-character organisation code body.

    The body uses digits and uppercase letters A-Z. The check is
    ``11 - sum % 11`` over weights 3,7,9,10,5,8,4,2, written as 'X' for 10 and
    '0' for 11.
    """
    if len(body8) != 8 or not set(body8) <= _ORG_BODY_CHARS:
        raise ValueError(
            "organisation code body must be 8 digits or uppercase letters, "
            f"got {body8!r}"
        )
    total = sum(
        _org_char_value(c) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def credit_code_check_char(first17: str) -> str:
    """Return the GB 32100 MOD 31 check character for the first 17 characters."""
    if len(first17) != 17 or not set(first17) <= set(CREDIT_CODE_ALPHABET):
        raise ValueError(
            f"expected the first 17 characters of a credit code, got {first17!r}"
        )
    total = sum(
        CREDIT_CODE_ALPHABET.index(char) * weight
        for char, weight in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def _check_credit_code_head(
    authority: str, entity_type: str, division_code: str
) -> None:
    allowed_types = CREDIT_CODE_ENTITY_TYPES.get(authority)
    if allowed_types is None:
        raise ValueError(
            f"credit code registration authority code {authority!r} is not defined "
            "in GB 32100 "
            f"(allowed: {', '.join(CREDIT_CODE_ENTITY_TYPES)})"
        )
    if entity_type not in allowed_types:
        raise ValueError(
            f"credit code entity type {entity_type!r} is not valid for registration "
            f"authority {authority!r} (allowed: {', '.join(sorted(allowed_types))})"
        )
    if len(division_code) != 6 or not set(division_code) <= _DIGITS:
        raise ValueError(
            f"credit code division code must be 6 digits, got {division_code!r}"
        )
    if division_code != _NATIONAL_DIVISION_CODE and not _has_valid_province(
        division_code
    ):
        raise ValueError(
            f"credit code division code {division_code} does not start with a valid "
            f"province code ({division_code[:2]}) and is not the national code 100000"
        )


def validate_credit_code(value: str) -> str:
    """Validate a GB 32100-2015 unified social credit code.

    Spaces and hyphens are removed and letters upper-cased. Checks, in order:
    length, character set, registration authority, entity type for that
    authority, division code, GB 11714 organisation code check character,
    MOD 31 check character.

    Compared with ``stdnum.cn.uscc`` this is stricter on structure (authority,
    entity type, division, organisation-code check) but also accepts the
    letter authorities A, N and Y defined by the standard, which stdnum
    rejects because it requires the first 8 characters to be digits.
    """
    code = value.replace(" ", "").replace("-", "").strip().upper()
    if len(code) != 18:
        raise ValueError(f"credit code must be 18 characters, got {len(code)}")
    for position, char in enumerate(code, start=1):
        if char not in CREDIT_CODE_ALPHABET:
            raise ValueError(
                f"credit code contains {char!r} at position {position}; only digits "
                "and uppercase letters except I, O, S, V, Z are allowed"
            )
    _check_credit_code_head(code[0], code[1], code[2:8])
    org_expected = organization_code_check_char(code[8:16])
    if code[16] != org_expected:
        raise ValueError(
            f"credit code organisation code {code[8:17]} check character is {code[16]} "
            f"but should be {org_expected}"
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise ValueError(
            f"credit code check character is {code[17]} but should be {expected}"
        )
    return code


def make_credit_code(
    *, authority: str, entity_type: str, division_code: str, org_body: str
) -> str:
    """Build a valid unified social credit code from its parts.

    ``org_body`` is the 8-character GB 11714 organisation code body; its check
    character and the final MOD 31 check character are computed.

    GB 11714 bodies may use any letter A-Z, but a credit code may not contain
    I, O, S, V or Z, so bodies with those letters raise ``ValueError``; callers
    generating random codes should pick another body. The organisation-code
    check character can be 'X'; that needs no special case because X *is* in
    the GB 32100 alphabet (``stdnum.cn.uscc`` accepts it too).
    """
    _check_credit_code_head(authority, entity_type, division_code)
    forbidden = sorted(set(org_body) & set("IOSVZ"))
    if forbidden:
        raise ValueError(
            f"organisation code body {org_body!r} contains {', '.join(forbidden)}, "
            "which a credit code cannot carry"
        )
    org_code = org_body + organization_code_check_char(org_body)
    first17 = authority + entity_type + division_code + org_code
    return first17 + credit_code_check_char(first17)


# --------------------------------------------------------------------------
# Mobile phone numbers
# --------------------------------------------------------------------------

_MOBILE_PATTERN: Final = re.compile(r"1[3-9]\d{9}")
_MOBILE_SEPARATORS: Final = re.compile(r"[\s\-]")


def validate_mobile(value: str) -> str:
    """Validate a mainland China mobile number and return its 11 digits.

    Accepts spaces and dashes anywhere and an optional ``+86``, ``0086`` or
    ``86`` country prefix.
    """
    number = _MOBILE_SEPARATORS.sub("", value)
    if number.startswith("+"):
        if not number.startswith("+86"):
            raise ValueError("mobile number country code must be +86")
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        # An 11-digit number starts with 1, so a leading 86 on 13 digits can
        # only be the country code.
        number = number[2:]
    for char in number:
        if char not in _DIGITS:
            raise ValueError(f"mobile number contains invalid character {char!r}")
    if len(number) != 11:
        raise ValueError(f"mobile number must have 11 digits, got {len(number)}")
    if not _MOBILE_PATTERN.fullmatch(number):
        raise ValueError(f"mobile number must start with 13-19, got {number[:2]}")
    return number
