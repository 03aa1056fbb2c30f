"""Tests for the national-standard identifier validators and generators.

python-stdnum (``stdnum.cn.ric`` / ``stdnum.cn.uscc``) serves as an
independent oracle for the check characters. Where stdnum and we
deliberately differ, the property tests restrict their inputs to the
region where both should agree:

* ric: stdnum also requires the address code to be a real county that
  existed in the birth year, and accepts birth dates before 1900 or in the
  future; we check only the province and reject those dates.
* uscc: stdnum requires the first 8 characters to be digits (so it rejects
  the letter authorities A, N, Y of GB 32100) and does not check the
  authority/entity type/division/organisation-code structure that we check.

Single-character substitutions: both check systems detect *every* single
substitution. MOD 11-2 weights (2**k mod 11) and MOD 31 weights (3**k mod 31)
are all non-zero and their moduli are prime and larger than any difference
between two character values (at most 9 resp. 30), so a change of one
character always changes the weighted sum modulo the modulus; and the check
character is a function of the sum, so changing it alone is detected too.
``test_weights_detect_every_single_substitution`` verifies that arithmetic.
"""

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from stdnum import numdb
from stdnum.cn import ric, uscc

from xingcheng.core.ids import (
    CREDIT_CODE_ALPHABET,
    CREDIT_CODE_ENTITY_TYPES,
    PROVINCE_CODES,
    credit_code_check_char,
    id_number_birth_date,
    id_number_check_digit,
    id_number_division,
    id_number_gender,
    make_credit_code,
    make_id_number,
    organization_code_check_char,
    validate_credit_code,
    validate_division_code,
    validate_id_number,
    validate_mobile,
)
from xingcheng.core.types import CreditCode, DivisionCode, Grade, IdNumber, MobilePhone


def _error_message(validator: Callable[[str], object], value: str) -> str:
    """Return the ValueError message ``validator`` raises for ``value``."""
    try:
        validator(value)
    except ValueError as error:
        return str(error)
    pytest.fail(f"{validator.__name__} accepted {value!r}")


def _accepts(validator: Callable[[str], object], value: str) -> bool:
    try:
        validator(value)
    except ValueError:
        return False
    return True


# Example from GB 11643-1999 itself: female, born 1949-12-31, Beijing Chaoyang.
STANDARD_ID_NUMBER = "11010519491231002X"
# Example from python-stdnum's documentation: male, born 1991-01-01.
STDNUM_ID_NUMBER = "360426199101010071"
# Real enterprise credit code used in python-stdnum's documentation.
REAL_CREDIT_CODE = "91110000600037341L"
# Example from the Chinese Wikipedia article; organisation code has letters.
LETTER_CREDIT_CODE = "91350100M000100Y43"


def _timeless_divisions() -> list[str]:
    """County-level codes stdnum knows that were valid in every year.

    stdnum rejects an ID number whose county did not exist in the birth year,
    so generated numbers for the oracle use only codes without a validity
    range.
    """
    codes = []
    for _, province, _, _, counties in numdb.get("cn/loc").prefixes:
        for _, county, _, props, _ in counties:
            if not any(
                part.startswith("[") for part in props.get("county", "[").split(",")
            ):
                codes.append(province + county)
    return codes


TIMELESS_DIVISIONS = _timeless_divisions()
TODAY = date.today()

divisions = st.sampled_from(TIMELESS_DIVISIONS)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
genders: st.SearchStrategy[Literal["M", "F"]] = st.sampled_from(["M", "F"])
sequences = st.integers(min_value=0, max_value=499)
province_prefixes = st.sampled_from(sorted(PROVINCE_CODES))


def test_timeless_divisions_cover_the_country() -> None:
    # Guards the oracle strategy: if stdnum's data layout changed this would
    # silently shrink to nothing.
    assert len(TIMELESS_DIVISIONS) > 300
    assert {code[:2] for code in TIMELESS_DIVISIONS} <= PROVINCE_CODES


# --------------------------------------------------------------------------
# ID number: known values
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (STANDARD_ID_NUMBER, STANDARD_ID_NUMBER),
        ("11010519491231002x", STANDARD_ID_NUMBER),
        (" 110105 19491231 002x ", STANDARD_ID_NUMBER),
        (STDNUM_ID_NUMBER, STDNUM_ID_NUMBER),
    ],
)
def test_validate_id_number_accepts_and_normalises(raw: str, normalised: str) -> None:
    assert validate_id_number(raw) == normalised


def test_id_number_parts() -> None:
    assert id_number_birth_date(STANDARD_ID_NUMBER) == date(1949, 12, 31)
    assert id_number_gender(STANDARD_ID_NUMBER) == "F"
    assert id_number_gender(STDNUM_ID_NUMBER) == "M"
    assert id_number_division(STANDARD_ID_NUMBER) == "110105"
    assert id_number_division("11010519491231002x") == "110105"


def test_id_number_part_accessors_reject_invalid_numbers() -> None:
    with pytest.raises(ValueError, match="check digit"):
        id_number_birth_date("110105194912310021")
    with pytest.raises(ValueError, match="check digit"):
        id_number_gender("110105194912310021")
    with pytest.raises(ValueError, match="check digit"):
        id_number_division("110105194912310021")


def test_id_number_check_digit() -> None:
    assert id_number_check_digit("11010519491231002") == "X"
    assert id_number_check_digit("36042619910101007") == "1"
    with pytest.raises(ValueError, match="first 17 digits"):
        id_number_check_digit("1101051949123100")
    with pytest.raises(ValueError, match="first 17 digits"):
        id_number_check_digit("1101051949123100A")


def _with_check_digit(first17: str) -> str:
    return first17 + id_number_check_digit(first17)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("11010519491231002", "ID number must be 18 characters, got 17"),
        ("1101051949123100212", "ID number must be 18 characters, got 19"),
        (
            "1101A5194912310021",
            "ID number must have digits in positions 1-17, found 'A' at position 5",
        ),
        ("11010519491231002Y", "ID number must end with a digit or X, found 'Y'"),
        (
            _with_check_digit("99010519491231002"),
            "ID number address code 990105 does not start with a valid province code (99)",
        ),
        (
            _with_check_digit("16010519491231002"),
            "ID number address code 160105 does not start with a valid province code (16)",
        ),
        (
            _with_check_digit("11010519991332002"),
            "ID number birth date 19991332 is not a valid date",
        ),
        (
            _with_check_digit("11010520230229002"),
            "ID number birth date 20230229 is not a valid date",
        ),
        (
            _with_check_digit("11010518991231002"),
            "ID number birth date 1899-12-31 is before 1900-01-01",
        ),
        # GB 11643-1999's own second example (born 1880) falls before our cut-off.
        ("440524188001010014", "ID number birth date 1880-01-01 is before 1900-01-01"),
        ("110105194912310027", "ID number check digit is 7 but should be X"),
        (
            "11010519491231002X".replace("002X", "0030"),
            "ID number check digit is 0 but should be 8",
        ),
    ],
)
def test_validate_id_number_error_messages(value: str, message: str) -> None:
    assert _error_message(validate_id_number, value) == message


def test_validate_id_number_rejects_future_birth_date() -> None:
    tomorrow = TODAY + timedelta(days=1)
    value = _with_check_digit(f"110105{tomorrow:%Y%m%d}002")
    assert _error_message(validate_id_number, value) == (
        f"ID number birth date {tomorrow.isoformat()} is in the future"
    )


def test_validate_id_number_accepts_today_and_1900() -> None:
    assert validate_id_number(_with_check_digit(f"110105{TODAY:%Y%m%d}002"))
    assert validate_id_number(_with_check_digit("11010519000101002"))


@pytest.mark.parametrize("province", ["71", "81", "82"])
def test_validate_id_number_accepts_taiwan_hong_kong_macao(province: str) -> None:
    value = _with_check_digit(f"{province}000019900101002")
    assert validate_id_number(value) == value


def test_make_id_number_reproduces_standard_example() -> None:
    # Sequence 1 for a woman is order code 002.
    assert make_id_number("110105", date(1949, 12, 31), 1, "F") == STANDARD_ID_NUMBER


@pytest.mark.parametrize(
    ("sequence", "gender", "order_code"),
    [
        (0, "F", "000"),
        (0, "M", "001"),
        (499, "F", "998"),
        (499, "M", "999"),
        (3, "M", "007"),
    ],
)
def test_make_id_number_order_code(
    sequence: int, gender: Literal["M", "F"], order_code: str
) -> None:
    assert (
        make_id_number("360426", date(1991, 1, 1), sequence, gender)[14:17]
        == order_code
    )


@pytest.mark.parametrize(
    ("division", "birth_date", "sequence", "gender", "message"),
    [
        (
            "110105",
            date(1990, 1, 1),
            -1,
            "M",
            "sequence must be between 0 and 499, got -1",
        ),
        (
            "110105",
            date(1990, 1, 1),
            500,
            "M",
            "sequence must be between 0 and 499, got 500",
        ),
        ("110105", date(1990, 1, 1), 1, "X", "gender must be 'M' or 'F', got 'X'"),
        (
            "990000",
            date(1990, 1, 1),
            1,
            "M",
            "division code 990000 does not start with a valid province code (99)",
        ),
        (
            "11010",
            date(1990, 1, 1),
            1,
            "M",
            "division code must be 6 digits, got '11010'",
        ),
        (
            "110105",
            date(1899, 12, 31),
            1,
            "M",
            "birth date 1899-12-31 is before 1900-01-01",
        ),
        (
            "110105",
            TODAY + timedelta(days=1),
            1,
            "F",
            f"birth date {TODAY + timedelta(days=1)} is in the future",
        ),
    ],
)
def test_make_id_number_rejects_bad_input(
    division: str,
    birth_date: date,
    sequence: int,
    gender: Literal["M", "F"],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_id_number(division, birth_date, sequence, gender)


# --------------------------------------------------------------------------
# ID number: properties, with stdnum as oracle
# --------------------------------------------------------------------------


@given(divisions, birth_dates, sequences, genders)
def test_make_id_number_output_is_valid_for_us_and_stdnum(
    division: str, birth_date: date, sequence: int, gender: Literal["M", "F"]
) -> None:
    number = make_id_number(division, birth_date, sequence, gender)
    assert validate_id_number(number) == number
    assert ric.is_valid(number)
    assert id_number_birth_date(number) == birth_date == ric.get_birth_date(number)
    assert id_number_gender(number) == gender
    assert id_number_division(number) == division


@given(divisions, birth_dates, sequences, genders)
def test_any_single_substitution_in_id_number_is_rejected(
    division: str, birth_date: date, sequence: int, gender: Literal["M", "F"]
) -> None:
    number = make_id_number(division, birth_date, sequence, gender)
    for position in range(18):
        allowed = "0123456789X" if position == 17 else "0123456789"
        for replacement in allowed:
            if replacement == number[position]:
                continue
            mutated = number[:position] + replacement + number[position + 1 :]
            assert not _accepts(validate_id_number, mutated), mutated


@given(
    division=divisions,
    year=st.integers(min_value=1900, max_value=TODAY.year - 1),
    # Deliberately includes impossible months and days (00, 13-19, 32-39).
    month=st.integers(min_value=0, max_value=19),
    day=st.integers(min_value=0, max_value=39),
    order_code=st.integers(min_value=0, max_value=999),
    last=st.sampled_from("0123456789X"),
)
def test_id_number_agrees_with_stdnum(
    division: str, year: int, month: int, day: int, order_code: int, last: str
) -> None:
    # Years stop before the current one, so every real date is in the past
    # and stdnum's lack of a future check does not matter.
    number = f"{division}{year:04d}{month:02d}{day:02d}{order_code:03d}{last}"
    assert _accepts(validate_id_number, number) == ric.is_valid(number)


# --------------------------------------------------------------------------
# Credit code: known values
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        (REAL_CREDIT_CODE, REAL_CREDIT_CODE),
        ("91110000600037341l", REAL_CREDIT_CODE),
        ("9 1 110000 60003734-1 L", REAL_CREDIT_CODE),
        (LETTER_CREDIT_CODE, LETTER_CREDIT_CODE),
        ("91350100m000100y43", LETTER_CREDIT_CODE),
    ],
)
def test_validate_credit_code_accepts_and_normalises(raw: str, normalised: str) -> None:
    assert validate_credit_code(raw) == normalised
    assert uscc.is_valid(normalised)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("60003734", "1"),  # from REAL_CREDIT_CODE
        ("M000100Y", "4"),  # from LETTER_CREDIT_CODE: M=22, Y=34
        ("00000000", "0"),  # 11 - 0 = 11 -> '0'
        ("00000001", "9"),  # 11 - 2
        ("00000006", "X"),  # 6*2 = 12, 12 % 11 = 1, 11 - 1 = 10 -> 'X'
    ],
)
def test_organization_code_check_char(body: str, check: str) -> None:
    assert organization_code_check_char(body) == check


@pytest.mark.parametrize("body", ["6000373", "600037345", "6000373a", "6000373-"])
def test_organization_code_check_char_rejects_bad_body(body: str) -> None:
    with pytest.raises(
        ValueError, match="organisation code body must be 8 digits or uppercase letters"
    ):
        organization_code_check_char(body)


def test_credit_code_check_char() -> None:
    assert credit_code_check_char(REAL_CREDIT_CODE[:17]) == "L"
    assert credit_code_check_char(LETTER_CREDIT_CODE[:17]) == "3"
    with pytest.raises(ValueError, match="first 17 characters of a credit code"):
        credit_code_check_char(REAL_CREDIT_CODE[:16])
    with pytest.raises(ValueError, match="first 17 characters of a credit code"):
        credit_code_check_char("9111000060003734I")


def _with_credit_checks(first16: str) -> str:
    """Complete 16 characters with a correct organisation check and final check."""
    first17 = first16 + organization_code_check_char(first16[8:16])
    return first17 + credit_code_check_char(first17)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("91110000600037341", "credit code must be 18 characters, got 17"),
        (
            "91110000I00037341L",
            (
                "credit code contains 'I' at position 9; only digits and uppercase letters "
                "except I, O, S, V, Z are allowed"
            ),
        ),
        (
            _with_credit_checks("B1110000" + "60003734"),
            (
                "credit code registration authority code 'B' is not defined in GB 32100 "
                "(allowed: 1, 2, 3, 4, 5, 6, 7, 8, 9, A, N, Y)"
            ),
        ),
        (
            _with_credit_checks("94110000" + "60003734"),
            (
                "credit code entity type '4' is not valid for registration "
                "authority '9' (allowed: 1, 2, 3)"
            ),
        ),
        (
            _with_credit_checks("Y2110000" + "60003734"),
            (
                "credit code entity type '2' is not valid for registration "
                "authority 'Y' (allowed: 1)"
            ),
        ),
        (
            _with_credit_checks("9111A000" + "60003734"),
            "credit code division code must be 6 digits, got '11A000'",
        ),
        (
            _with_credit_checks("91990000" + "60003734"),
            (
                "credit code division code 990000 does not start with a valid province "
                "code (99) and is not the national code 100000"
            ),
        ),
        (
            "91110000600037342" + credit_code_check_char("91110000600037342"),
            (
                "credit code organisation code 600037342 check character is 2 "
                "but should be 1"
            ),
        ),
        ("91110000600037341K", "credit code check character is K but should be L"),
    ],
)
def test_validate_credit_code_error_messages(value: str, message: str) -> None:
    assert _error_message(validate_credit_code, value) == message


def test_validate_credit_code_accepts_national_division() -> None:
    code = _with_credit_checks("11100000" + "00000001")
    assert validate_credit_code(code) == code


def test_make_credit_code_examples() -> None:
    assert (
        make_credit_code(
            authority="9", entity_type="1", division_code="110000", org_body="60003734"
        )
        == REAL_CREDIT_CODE
    )
    assert (
        make_credit_code(
            authority="9", entity_type="1", division_code="350100", org_body="M000100Y"
        )
        == LETTER_CREDIT_CODE
    )


def test_make_credit_code_with_x_organisation_check() -> None:
    # X is in the GB 32100 alphabet, so an organisation code ending in X is fine.
    code = make_credit_code(
        authority="9", entity_type="1", division_code="430100", org_body="00000006"
    )
    assert code[16] == "X"
    assert validate_credit_code(code) == code
    assert uscc.is_valid(code)


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
def test_make_credit_code_rejects_letters_outside_credit_alphabet(letter: str) -> None:
    with pytest.raises(
        ValueError, match=f"contains {letter}, which a credit code cannot carry"
    ):
        make_credit_code(
            authority="9",
            entity_type="1",
            division_code="430100",
            org_body=f"MA{letter}00000",
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"authority": "0"}, "registration authority code '0' is not defined"),
        (
            {"entity_type": "9"},
            "entity type '9' is not valid for registration authority '9'",
        ),
        ({"division_code": "43010"}, "division code must be 6 digits"),
        ({"division_code": "000000"}, "does not start with a valid province code"),
        (
            {"org_body": "0000000"},
            "organisation code body must be 8 digits or uppercase letters",
        ),
        (
            {"org_body": "0000000a"},
            "organisation code body must be 8 digits or uppercase letters",
        ),
    ],
)
def test_make_credit_code_rejects_bad_parts(
    kwargs: dict[str, str], message: str
) -> None:
    arguments = {
        "authority": "9",
        "entity_type": "1",
        "division_code": "430100",
        "org_body": "00000001",
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_credit_code(**arguments)


# --------------------------------------------------------------------------
# Credit code: properties, with stdnum as oracle
# --------------------------------------------------------------------------

authority_and_type = st.sampled_from(
    [
        (authority, entity)
        for authority, types in CREDIT_CODE_ENTITY_TYPES.items()
        for entity in sorted(types)
    ]
)
credit_divisions = st.one_of(
    st.just("100000"),
    st.builds(
        lambda province, rest: province + rest,
        province_prefixes,
        st.text("0123456789", min_size=4, max_size=4),
    ),
)
org_bodies = st.text(CREDIT_CODE_ALPHABET, min_size=8, max_size=8)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    authority, entity_type = draw(authority_and_type)
    return make_credit_code(
        authority=authority,
        entity_type=entity_type,
        division_code=draw(credit_divisions),
        org_body=draw(org_bodies),
    )


@given(credit_codes())
def test_make_credit_code_output_is_valid_for_us_and_stdnum(code: str) -> None:
    assert validate_credit_code(code) == code
    assert uscc.calc_check_digit(code[:17]) == code[17]
    if code[:8].isdigit():
        # stdnum only knows the digit authorities.
        assert uscc.is_valid(code)


@given(credit_codes())
def test_any_single_substitution_in_credit_code_is_rejected(code: str) -> None:
    for position in range(18):
        for replacement in CREDIT_CODE_ALPHABET:
            if replacement == code[position]:
                continue
            mutated = code[:position] + replacement + code[position + 1 :]
            assert not _accepts(validate_credit_code, mutated), mutated


@given(
    authority_and_type=st.sampled_from(
        [
            (a, t)
            for a, types in CREDIT_CODE_ENTITY_TYPES.items()
            if a.isdigit()
            for t in sorted(types)
        ]
    ),
    division=credit_divisions,
    org_body=org_bodies,
    last=st.sampled_from(CREDIT_CODE_ALPHABET),
)
def test_credit_code_agrees_with_stdnum(
    authority_and_type: tuple[str, str], division: str, org_body: str, last: str
) -> None:
    # Structurally valid heads with a random final character: the only thing
    # left to decide is the MOD 31 check, where both must agree.
    authority, entity_type = authority_and_type
    code = (
        authority
        + entity_type
        + division
        + org_body
        + organization_code_check_char(org_body)
        + last
    )
    assert _accepts(validate_credit_code, code) == uscc.is_valid(code)


def test_weights_detect_every_single_substitution() -> None:
    id_weights = [2 ** (17 - i) % 11 for i in range(17)]
    assert id_weights == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    assert all(w * delta % 11 for w in id_weights for delta in range(1, 10))
    credit_weights = [3**i % 31 for i in range(17)]
    assert credit_weights == [
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
    ]
    assert all(w * delta % 31 for w in credit_weights for delta in range(1, 31))


# --------------------------------------------------------------------------
# Mobile numbers and division codes
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+8613800138000",
        "+86 138 0013 8000",
        "0086 138-0013-8000",
        "8613800138000",
    ],
)
def test_validate_mobile_accepts_and_normalises(raw: str) -> None:
    assert validate_mobile(raw) == "13800138000"


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_validate_mobile_accepts_every_second_digit(prefix: str) -> None:
    assert validate_mobile(prefix + "912345678") == prefix + "912345678"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1380013800", "mobile number must have 11 digits, got 10"),
        ("138001380001", "mobile number must have 11 digits, got 12"),
        # 12 digits starting with 86: not a country prefix plus a mobile number.
        ("861380013800", "mobile number must have 11 digits, got 12"),
        ("12800138000", "mobile number must start with 13-19, got 12"),
        ("23800138000", "mobile number must start with 13-19, got 23"),
        ("1380013800a", "mobile number contains invalid character 'a'"),
        ("+85213800138000", "mobile number country code must be +86"),
        ("(010) 12345678", "mobile number contains invalid character '('"),
    ],
)
def test_validate_mobile_error_messages(value: str, message: str) -> None:
    assert _error_message(validate_mobile, value) == message


@pytest.mark.parametrize(
    "code", ["110000", "430102", "650100", "710000", "810000", "820000"]
)
def test_validate_division_code_accepts(code: str) -> None:
    assert validate_division_code(code) == code


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("43010", "division code must be 6 digits, got '43010'"),
        ("43010a", "division code must be 6 digits, got '43010a'"),
        (
            "100000",
            "division code 100000 does not start with a valid province code (10)",
        ),
        (
            "240100",
            "division code 240100 does not start with a valid province code (24)",
        ),
        (
            "830000",
            "division code 830000 does not start with a valid province code (83)",
        ),
    ],
)
def test_validate_division_code_error_messages(value: str, message: str) -> None:
    assert _error_message(validate_division_code, value) == message


# --------------------------------------------------------------------------
# Pydantic types
# --------------------------------------------------------------------------


class Person(BaseModel):
    id_number: IdNumber
    employer: CreditCode
    mobile: MobilePhone
    division: DivisionCode
    grade: Grade


VALID_PERSON = {
    "id_number": "11010519491231002x",
    "employer": "91110000600037341l",
    "mobile": "+86 138-0013-8000",
    "division": "110105",
    "grade": "L2",
}


def test_model_normalises_identifiers() -> None:
    person = Person.model_validate(VALID_PERSON)
    assert person.id_number == STANDARD_ID_NUMBER
    assert person.employer == REAL_CREDIT_CODE
    assert person.mobile == "13800138000"
    assert person.division == "110105"
    assert person.grade == "L2"


@pytest.mark.parametrize(
    ("field", "bad_value", "message"),
    [
        (
            "id_number",
            "110105194912310027",
            "ID number check digit is 7 but should be X",
        ),
        (
            "employer",
            "91110000600037341K",
            "credit code check character is K but should be L",
        ),
        ("mobile", "12800138000", "mobile number must start with 13-19, got 12"),
        (
            "division",
            "990000",
            "division code 990000 does not start with a valid province code (99)",
        ),
    ],
)
def test_model_reports_validator_message(
    field: str, bad_value: str, message: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Person.model_validate({**VALID_PERSON, field: bad_value})
    errors = excinfo.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (field,)
    assert errors[0]["msg"] == f"Value error, {message}"


def test_model_rejects_unknown_grade() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Person.model_validate({**VALID_PERSON, "grade": "L5"})
    assert excinfo.value.errors()[0]["loc"] == ("grade",)


def test_json_schema_documents_identifiers_without_pattern() -> None:
    properties = Person.model_json_schema()["properties"]
    assert properties["id_number"]["examples"] == [STANDARD_ID_NUMBER]
    assert properties["employer"]["examples"] == [REAL_CREDIT_CODE]
    # A pattern would be enforced before normalisation and reject "+86 ..." etc.
    assert all(
        "pattern" not in properties[name]
        for name in ("id_number", "employer", "mobile", "division")
    )
