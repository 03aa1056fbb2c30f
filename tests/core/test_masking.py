"""Masking: the documented forms per kind and level, detection inside free text, and the
vectorised maskers equal to the scalar ones for every input (hypothesis)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xingcheng.core.ids import PROVINCE_CODES, make_id_number, validate_mobile
from xingcheng.core.masking import (
    COMPOUND_SURNAMES,
    FIELD_KINDS,
    MASK_LEVELS,
    MASKERS,
    mask,
    mask_address,
    mask_array,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_table,
)

# ---------------------------------------------------------------------------------------------
# The documented forms
# ---------------------------------------------------------------------------------------------

PARTIAL = [
    ("id_number", "430102199001011234", "430102********1234"),
    ("id_number", "43010219900101123X", "430102********123X"),
    ("id_number", "430102900101123", "430102*****1123"),  # 15-character first-generation number
    ("id_number", "1234567890", "**********"),
    ("name", "张三", "张*"),
    ("name", "张", "张*"),
    ("name", "张三丰", "张**"),
    ("name", "欧阳修", "欧阳*"),
    ("name", "司马相如", "司马**"),
    ("name", "诸葛亮", "诸葛*"),
    ("name", "欧阳", "欧*"),  # two characters: a surname alone cannot be told from 欧 + 阳
    ("phone", "13812345678", "138****5678"),
    ("phone", "0731-88886666", "*********6666"),
    ("phone", "110", "***"),
    ("address", "湖南省长沙市岳麓区麓山南路932号", "湖南省长沙市岳麓区****"),
    ("address", "长沙市岳麓区麓山南路932号", "长沙市岳麓区****"),
    ("address", "长沙市开福区市场路8号", "长沙市开福区****"),
    ("address", "长沙县星沙街道天华路", "长沙县****"),
    ("address", "浏阳市集里街道", "浏阳市****"),
    ("address", "麓山南路932号", "****"),
    ("bank_card", "6222021234567891234", "6222 **** **** 1234"),
    ("bank_card", "6222 0212 3456 7891", "6222 **** **** 7891"),
    ("bank_card", "6222-0212-3456-7891-234", "6222 **** **** 1234"),
    ("bank_card", "62220212", "********"),
    ("bank_card", "湖南省长沙市岳麓区麓山南路9号", "*" * 15),
    ("email", "zhang.san@example.com", "z***@example.com"),
    ("email", "a@b@c.cn", "a***@c.cn"),
    ("email", "@example.com", "************"),
    ("email", "no-at-sign", "**********"),
]


@pytest.mark.parametrize(("kind", "value", "expected"), PARTIAL)
def test_partial_forms(kind: str, value: str, expected: str) -> None:
    assert mask(kind, value) == expected
    assert MASKERS[kind](value) == expected


@pytest.mark.parametrize("kind", FIELD_KINDS)
def test_levels_none_full_and_empty_values(kind: str) -> None:
    assert mask(kind, "13812345678", "none") == "13812345678"
    for level in MASK_LEVELS:
        assert mask(kind, None, level) is None  # type: ignore[arg-type]
        assert mask(kind, "", level) == ""
    if kind != "free_text":
        assert mask(kind, "欧阳修", "full") == "***"


def test_the_first_version_functions_keep_their_meaning() -> None:
    assert mask_id_number("430102199001011234") == "430102********1234"
    assert mask_name("张三") == "张*"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_address("长沙市岳麓区麓山南路") == "长沙市岳麓区****"


def test_every_compound_surname_is_kept_whole() -> None:
    for surname in COMPOUND_SURNAMES:
        assert mask_name(surname + "明") == surname + "*"
        assert mask_name(surname + "明明") == surname + "**"


def test_unknown_kind_or_level_is_refused_not_passed_through() -> None:
    with pytest.raises(ValueError, match="unknown field kind 'credit_code'"):
        mask("credit_code", "91430100MA4L0XXXXX")
    with pytest.raises(ValueError, match="unknown mask level 'some'"):
        mask("name", "张三", "some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown field kind"):
        mask_array("credit_code", pa.array(["x"]))


# ---------------------------------------------------------------------------------------------
# Free text
# ---------------------------------------------------------------------------------------------

TEXT = (
    "来电人张三，身份证430102199001011234，电话138-1234-5678,13912345678；"
    "工资卡6222021234567891234，备用卡 6222 0212 3456 7891 234，邮箱 zhang.san@example.com"
)


def test_free_text_partial_and_full() -> None:
    assert mask("free_text", TEXT) == (
        "来电人张三，身份证430102********1234，电话138-****-5678,139****5678；"
        "工资卡6222 **** **** 1234，备用卡 6222 **** **** 1234，邮箱 z***@example.com"
    )
    assert mask("free_text", TEXT, "full") == (
        "来电人张三，身份证******************，电话***********,***********；"
        "工资卡**** **** **** ****，备用卡 **** **** **** ****，邮箱 ***@***"
    )


@pytest.mark.parametrize(
    "text",
    [
        "订单号12345678901234567890已发货",  # 20 digits: no ID, card or phone has that many
        "编号 123456789012 已受理",  # 12 digits
        "2026-01-01 办结，窗口 12 号",
        "电话 0731-12345",
    ],
)
def test_free_text_leaves_look_alikes_alone(text: str) -> None:
    assert mask("free_text", text) == text


@pytest.mark.parametrize("number", ["990102199001011234", "430102199013011234"])  # no province 99; month 13
def test_eighteen_digits_that_are_no_id_number_are_still_masked_as_a_card(number: str) -> None:
    assert mask("free_text", f"编号{number}。") == f"编号{number[:4]} **** **** {number[-4:]}。"


ids = st.builds(
    make_id_number,
    st.sampled_from(sorted(PROVINCE_CODES)).map(lambda p: p + "0102"),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    st.integers(0, 499),
    st.sampled_from(["M", "F"]),
)
mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
cards = st.from_regex(r"62[0-9]{14,17}", fullmatch=True)
chinese = st.text(alphabet="长沙市岳麓区电话号码联系人，。：；（）的是了", max_size=6)


@given(ids, mobiles, cards, chinese.filter(bool), chinese.filter(bool))
def test_free_text_finds_every_valid_id_phone_and_card(id_number: str, phone: str, card: str, a: str, b: str) -> None:
    # Items need something that is not a digit between them: one digit run is one number.
    validate_mobile(phone)
    masked = mask("free_text", f"{a}{id_number}{b}{phone}{a}{card}，{phone},{id_number}{b}")
    assert id_number not in masked and phone not in masked and card not in masked
    assert id_number[:6] + "********" + id_number[-4:] in masked
    assert phone[:3] + "****" + phone[-4:] in masked
    assert card[:4] + " **** **** " + card[-4:] in masked


# ---------------------------------------------------------------------------------------------
# Vectorised == scalar
# ---------------------------------------------------------------------------------------------

names = st.builds(
    lambda surname, given: surname + given,
    st.sampled_from(sorted(COMPOUND_SURNAMES) + list("张王李赵刘陈杨黄周吴")),
    st.text(alphabet="伟芳娜秀英敏静丽强磊军洋阳马", max_size=3),
)
addresses = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(["", "湖南省", "广西壮族自治区", "内蒙古自治区"]),
    st.sampled_from(["", "长沙市", "湘西土家族苗族自治州", "呼伦贝尔盟"]),
    st.sampled_from(["", "岳麓区", "长沙县", "浏阳市", "达尔罕茂明安联合旗", "湘江新区"]),
    st.sampled_from(["", "麓山南路932号", "市场路8号", "\n2栋", "县前街"]),
)
emails = st.emails().map(str)
grouped_cards = cards.map(lambda c: " ".join(c[i : i + 4] for i in range(0, len(c), 4)))
tricky = st.text(alphabet="0123456789Xx -+@._省市区县旗自治州盟欧阳司马张\n*", max_size=40)
realistic = st.one_of(ids, names, mobiles, addresses, cards, grouped_cards, emails)
fragments = st.one_of(realistic, tricky, chinese, st.text(max_size=8))
values = st.one_of(st.none(), st.just(""), fragments, st.lists(fragments, max_size=6).map("".join))


def assert_vector_equals_scalar(kind: str, level: str, batch: list[str | None]) -> None:
    expected = [mask(kind, value, level) for value in batch]  # type: ignore[arg-type]
    for array in (pa.array(batch, pa.string()), pa.array(batch, pa.large_string())):
        assert mask_array(kind, array, level).to_pylist() == expected  # type: ignore[arg-type]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(FIELD_KINDS), st.sampled_from(MASK_LEVELS), st.lists(values, max_size=12))
def test_vector_equals_scalar_on_random_and_realistic_values(kind: str, level: str, batch: list[str | None]) -> None:
    assert_vector_equals_scalar(kind, level, batch)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FIELD_KINDS), st.lists(st.one_of(st.none(), ids), max_size=8))
def test_vector_equals_scalar_on_uniform_batches(kind: str, batch: list[str | None]) -> None:
    # All values 18 (or 11) characters long take the one-kernel fast path.
    assert_vector_equals_scalar(kind, "partial", batch)
    assert_vector_equals_scalar(kind, "partial", [None if v is None else v[:11] for v in batch])


@settings(max_examples=100, deadline=None)
@given(st.lists(values, min_size=1, max_size=20))
def test_free_text_vector_equals_scalar(batch: list[str | None]) -> None:
    joined = [None if v is None else TEXT + v + TEXT for v in batch]
    for level in MASK_LEVELS:
        assert_vector_equals_scalar("free_text", level, joined)


def test_chunked_dictionary_and_view_arrays() -> None:
    batch = ["欧阳修", None, "张三", "欧阳修", ""]
    expected = [mask("name", v) for v in batch]
    chunked = pa.chunked_array([batch[:2], batch[2:]])
    result = mask_array("name", chunked)
    assert isinstance(result, pa.ChunkedArray) and result.num_chunks == 2
    assert result.to_pylist() == expected
    dictionary = pa.array(batch).dictionary_encode()
    masked = mask_array("name", dictionary)
    assert pa.types.is_dictionary(masked.type) and masked.to_pylist() == expected
    assert mask_array("name", pa.array(batch, pa.string_view())).to_pylist() == expected
    assert mask_array("name", pa.array([None, None])).to_pylist() == [None, None]
    assert mask_array("name", pa.chunked_array([], pa.string())).to_pylist() == []
    with pytest.raises(TypeError, match="masking works on strings"):
        mask_array("name", pa.array([1, 2]))


@pytest.mark.parametrize("use_threads", [True, False])
def test_mask_table_per_column_levels(use_threads: bool) -> None:
    table = pa.table({
        "id_number": pa.chunked_array([["430102199001011234"], ["43010219900101123X", None]]),
        "name": ["欧阳修", "张三", "李四"],
        "phone": ["13812345678", "13912345678", None],
        "district": ["岳麓区", "天心区", "雨花区"],
    })
    masked = mask_table(
        table, {"id_number": "id_number", "name": "name", "phone": "phone"},
        {"id_number": "full", "name": "none"}, use_threads=use_threads,
    )
    assert masked.column_names == table.column_names
    assert masked.column("id_number").to_pylist() == ["*" * 18, "*" * 18, None]
    assert masked.column("name").to_pylist() == ["欧阳修", "张三", "李四"]
    assert masked.column("phone").to_pylist() == ["138****5678", "139****5678", None]  # default partial
    assert masked.column("district").to_pylist() == ["岳麓区", "天心区", "雨花区"]
    with pytest.raises(ValueError, match="no column 'mobile'"):
        mask_table(table, {"mobile": "phone"})


# The address rule finds the kept prefix without a capture group: RE2 writes the whole match back
# followed by a sentinel (a Unicode noncharacter absent from the batch) and the value is cut there.
address_chars = st.text(alphabet="省市区县旗自治州盟湖南长沙岳麓芙蓉路号街道 \n1-欧阳\ufdd0\ufdd1", max_size=30)
chinese_addresses = st.one_of(addresses, address_chars, st.lists(st.one_of(addresses, address_chars), max_size=4).map("".join))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(""), chinese_addresses, st.text(max_size=12)), max_size=16))
def test_address_vector_equals_scalar_with_chinese_addresses_empties_and_nulls(batch: list[str | None]) -> None:
    for level in MASK_LEVELS:
        assert_vector_equals_scalar("address", level, batch)


def test_address_sentinels_in_the_data_do_not_change_the_result() -> None:
    every_sentinel = "".join(chr(code) for code in range(0xFDD0, 0xFDF0))
    batch = ["长沙市\ufdd0岳麓区麓山南路", "湖南省长沙市岳麓区\ufdd0\ufdd1", "\ufdd0", None, "", "市场路"]
    assert_vector_equals_scalar("address", "partial", batch)
    # Every candidate present: the capture-group path, same meaning.
    assert_vector_equals_scalar("address", "partial", [*batch, every_sentinel, "长沙县" + every_sentinel])
    assert mask_array("address", pa.array(["长沙市\ufdd0岳麓区路", "x"])).to_pylist() == ["长沙市\ufdd0岳麓区****", "****"]


def test_sliced_arrays_mask_only_their_own_rows() -> None:
    batch = ["长沙市岳麓区麓山南路", "欧阳修", "13812345678", None, "", "湖南省长沙县星沙"]
    array = pa.array(batch)
    for kind in ("address", "name", "phone", "id_number"):
        for start, stop in ((1, 5), (2, 6), (0, 3)):
            assert mask_array(kind, array.slice(start, stop - start)).to_pylist() == [mask(kind, v) for v in batch[start:stop]]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(["name", "phone", "id_number"]),
       st.lists(st.one_of(st.none(), st.just(""), names, mobiles, ids, st.text(max_size=20)), max_size=16))
def test_name_phone_id_vector_equals_scalar_with_empties_and_nulls(kind: str, batch: list[str | None]) -> None:
    for level in MASK_LEVELS:
        assert_vector_equals_scalar(kind, level, batch)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(""), chinese, values.map(lambda v: v or ""),
                          st.builds(lambda a, i, b: a + i + b, chinese, st.one_of(ids, mobiles, cards, grouped_cards, emails),
                                    chinese)), min_size=1, max_size=16))
def test_free_text_and_email_vector_equal_scalar_when_only_some_rows_hold_items(batch: list[str | None]) -> None:
    # Rows without an item skip the capture-group rewrite; the result must not depend on it.
    for level in MASK_LEVELS:
        assert_vector_equals_scalar("free_text", level, batch)
        assert_vector_equals_scalar("email", level, batch)


# ---------------------------------------------------------------------------------------------
# Masking through distinct values (address keys, repeated names)
# ---------------------------------------------------------------------------------------------


def test_address_reach_is_the_longest_match_the_pattern_allows() -> None:
    # The vectorised rule only looks at this many leading characters; it must cover every match.
    import re._parser as sre_parser  # type: ignore[import-not-found, unused-ignore]

    from xingcheng.core import masking

    assert sre_parser.parse(masking.ADDRESS_PREFIX).getwidth() == (2, masking._ADDRESS_REACH)
    assert not set("省市区县旗") & set(masking._ADDRESS_TAIL)


def assert_all_array_shapes_equal_scalar(kind: str, batch: list[str | None]) -> None:
    """Plain, large, chunked, dictionary, sliced and chunked-dictionary arrays against ``mask``."""
    expected = [mask(kind, value) for value in batch]
    assert_vector_equals_scalar(kind, "partial", batch)
    middle = len(batch) // 2
    chunked = mask_array(kind, pa.chunked_array([batch[:middle], batch[middle:]], pa.string()))
    assert chunked.to_pylist() == expected
    dictionary = pa.array(batch, pa.string()).dictionary_encode()
    assert mask_array(kind, dictionary).to_pylist() == expected
    assert mask_array(kind, pa.chunked_array([dictionary.slice(0, middle), dictionary.slice(middle)])).to_pylist() == expected
    padded = pa.array(["湖南省长沙市岳麓区", *batch, "欧阳修"], pa.large_string())
    assert mask_array(kind, padded.slice(1, len(batch))).to_pylist() == expected


# Long runs without a marker put the end of the match near (and past) the 37th character, and
# characters outside the trimmed set (non-BMP, emoji, Latin-1) stop the trimming early.
long_address = st.text(alphabet="省市区县旗自治州盟长沙岳麓路号1 \n\U00020000😀é", min_size=20, max_size=60)
# Three parts of chosen lengths: matches of every length up to the longest (37 characters).
built_address = st.builds(
    lambda a, first, b, second, c, third, rest: "长" * a + first + "沙" * b + second + "岳" * c + third + rest,
    st.integers(0, 13), st.sampled_from(["省", "自治区", "", "州"]), st.integers(0, 11), st.sampled_from(["市", "州", "盟", ""]),
    st.integers(0, 11), st.sampled_from(["区", "县", "旗", "市", ""]), st.sampled_from(["", "路1号", "区", "😀"]),
)
address_rows = st.one_of(st.none(), st.just(""), chinese_addresses, long_address, built_address,
                         st.builds(lambda prefix, run, rest: prefix + "长" * run + rest,
                                   addresses, st.integers(0, 14), st.sampled_from(["区", "市", "县", "", "旗路", "😀"])))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(address_rows, max_size=10), st.integers(0, 3))
def test_address_through_distinct_keys_equals_scalar(batch: list[str | None], copies: int) -> None:
    # Repeated rows share a key; different tails after the same prefix must still each be right.
    assert_all_array_shapes_equal_scalar("address", batch * copies + batch[::-1])


def test_address_edge_cases_through_distinct_keys() -> None:
    batch = [
        "湖南省长沙市岳麓区麓山南路932号", "湖南省长沙市岳麓区桃子湖路1号", "湖南省长沙市岳麓区", "长沙市开福区市场路8号",
        "长" * 36 + "区", "长" * 37 + "区", "长" * 10 + "区" + "长" * 40 + "区",
        "长" * 12 + "自治区" + "长" * 10 + "市" + "长" * 10 + "区路1号",  # the longest match: 37 characters
        "长" * 12 + "自治区" + "长" * 10 + "州" + "长" * 9 + "旗" + "长" * 30 + "区",  # 36, then a marker past 37
        "长" * 8 + "省" + "长" * 10 + "盟" + "长" * 10 + "县",
        "广西壮族自治区" + "南宁市" + "青秀区" + "民族大道" * 10,
        "麓山南路932号", "😀长沙县", "长沙县😀", "\U00020000沙市岳麓区", "长沙市\n岳麓区", "", None, "区", "市市",
    ]
    assert_all_array_shapes_equal_scalar("address", batch)
    assert mask_array("address", pa.array([None, None], pa.string())).to_pylist() == [None, None]
    assert mask_array("address", pa.array(["", ""])).to_pylist() == ["", ""]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(""), names, st.text(alphabet="欧阳司马张\U00020000é ", max_size=4)),
                min_size=1, max_size=8),
       st.integers(1, 6))
def test_repeated_names_through_distinct_values_equal_scalar(batch: list[str | None], copies: int) -> None:
    # Repeats send the batch through its distinct values; unique batches take the direct path.
    assert_all_array_shapes_equal_scalar("name", batch * copies)


def test_names_past_the_sample_and_both_paths() -> None:
    from xingcheng.core import masking

    unique = [f"张{chr(0x4E00 + i)}{chr(0x4E00 + i // 7)}" for i in range(masking._NAME_SAMPLE + 10)]
    repeated = (["欧阳修", "张三", None, "", "李"] * (masking._NAME_SAMPLE // 4))[: masking._NAME_SAMPLE + 10]
    for batch, repeats in ((unique, False), (repeated, True), (unique[:100] + repeated, True), (repeated + unique, True)):
        column = masking._Column(pa.array(batch))
        assert column.repeats(masking._NAME_SAMPLE, masking._NAME_DISTINCT_RATIO) is repeats
        assert mask_array("name", pa.array(batch)).to_pylist() == [mask("name", v) for v in batch]
