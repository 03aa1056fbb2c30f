"""Masking of personal data by field kind and level: 430102********1234, 张*, 138****5678.

Two implementations with one meaning: the scalar functions (``mask`` and the per-kind maskers)
for single values, and ``mask_array`` / ``mask_table`` for Arrow data, built only from
``pyarrow.compute`` kernels (no Python loop over rows). A property test keeps them equal for
every input, which is why every rule below is written so that both sides can express it:
positional slicing by code point, and regular expressions that mean the same in Python's ``re``
and in RE2 (ASCII classes only, no look-around, no empty matches; ``$`` becomes ``\\Z`` for
Python, whose ``$`` would also match before a final newline).

Speed: a capture group (``extract_regex``, ``\\1`` rewrites) makes RE2 leave its DFA for its
submatch engines, tens of times slower per row. The vectorised structured kinds therefore use
slicing, length arithmetic, literal splits, hash lookups and group-free patterns (the address
prefix is written back whole with ``\\0``); free text needs its groups and rewrites only the
rows in which a group-free search finds an item. Where values repeat, the rule runs once per
distinct value and the results are taken back by index: always for ``address`` (the regex runs
on the part of the value that decides the match, which repeats: 湖南省长沙市岳麓区), and for
``name`` when a sample of the batch repeats.

Levels: ``none`` returns the value; ``full`` replaces every character with ``*`` (free text:
every detected item with a fixed-width mask); ``partial`` keeps what a clerk needs to tell
records apart. Empty strings stay empty and ``None`` stays ``None`` at every level.

Partial rules per kind:

* ``id_number``: first 6 and last 4 characters (430102********1234); 10 characters or fewer: all masked.
* ``name``: the surname — two characters for compound surnames (欧阳*, 司马**) when the name is
  longer than the surname — then one ``*`` per remaining character, at least one (张*).
* ``phone``: 11 characters: 138****5678; 8–10 or 12+: all but the last 4; shorter: all masked.
* ``address``: the division prefix up to the county level (长沙市岳麓区****); none found: ``****``.
* ``bank_card``: spaces and hyphens dropped; 12–19 ASCII digits left: 6222 **** **** 1234; else all masked.
* ``email``: first character of the local part, ``***``, the domain (z***@example.com); else all masked.
* ``free_text``: e-mail addresses, GB 11643 ID numbers (structurally valid: province, date),
  bank card numbers (16–19 digits, plain or in groups of four) and mobile numbers (optionally
  +86, spaced or hyphenated) are found inside the text and masked as above; full-width digits
  are not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Final, Literal, get_args

from xingcheng.core.ids import PROVINCE_CODES

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

MaskLevel = Literal["none", "partial", "full"]
FieldKind = Literal["id_number", "name", "phone", "address", "bank_card", "email", "free_text"]
MASK_LEVELS: Final[tuple[str, ...]] = get_args(MaskLevel)
FIELD_KINDS: Final[tuple[str, ...]] = get_args(FieldKind)

# 复姓: kept whole, so 欧阳修 reads 欧阳* rather than 欧**.
_COMPOUND_SURNAME_TEXT: Final = (
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳 "
    "公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 "
    "壤驷 公良 漆雕 乐正 宰父 谷梁 拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 公玉 "
    "公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 西门 公祖 第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 "
    "子书 子桑 即墨 达奚 褚师 欧侯"
)
COMPOUND_SURNAMES: Final[frozenset[str]] = frozenset(_COMPOUND_SURNAME_TEXT.split())
_COMPOUND_SORTED: Final[tuple[str, ...]] = tuple(sorted(COMPOUND_SURNAMES))

# Province / region, prefecture, county — each part stops at its marker, so 市场路 after the
# district is never swallowed; the county part alone may be a county-level city (浏阳市).
_NOT_MARK = "[^省市区县旗]"
ADDRESS_PREFIX: Final = (
    f"(?:{_NOT_MARK}{{1,8}}省|{_NOT_MARK}{{1,12}}自治区)?"
    f"(?:{_NOT_MARK}{{1,10}}(?:市|州|盟))?"
    f"{_NOT_MARK}{{1,10}}(?:区|县|旗|市)"
)
_ADDRESS_PY: Final = re.compile(ADDRESS_PREFIX)
_ADDRESS_ANCHORED: Final = f"^(?:{ADDRESS_PREFIX})"  # no capture group: RE2 finds the bounds by DFA
# The longest text ADDRESS_PREFIX can match, in code points (12 + 自治区, 10 + 市, 10 + 区; a test
# recomputes it from the pattern). Every path of the match reads at most this many characters.
_ADDRESS_REACH: Final = 37
# Characters a match never ends with (it ends with 区, 县, 旗 or 市). Cutting them off the right of a
# value's first _ADDRESS_REACH characters keeps every character a successful match can read, so
# the remainder has the value's match; and the remainder repeats across rows (house numbers and
# roads go), so the regex runs once per distinct remainder. Any subset of the non-ending
# characters is correct: one not listed is merely not cut, and that row repeats less.
_ADDRESS_TAIL: Final = "".join(
    chr(code)
    for code in (*range(0x09, 0x0E), *range(0x20, 0x7F), *range(0x3000, 0x3040), *range(0x4E00, 0xA000),
                 *range(0xFF01, 0xFF5F))
    if chr(code) not in "省市区县旗"
)
# Names are masked through their distinct values unless this many leading rows are nearly all distinct.
_NAME_SAMPLE: Final = 4096
_NAME_DISTINCT_RATIO: Final = 0.9
# Noncharacters (U+FDD0–U+FDEF) never occur in real text; the first one absent from a batch cuts it.
_SENTINELS: Final[tuple[str, ...]] = tuple(chr(code) for code in range(0xFDD0, 0xFDF0))

_PROVINCE = "(?:" + "|".join(sorted(PROVINCE_CODES)) + ")"
_DATE = "(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
# A leading group stands in for the missing look-behind: it captures the character before
# the item (or the start) and is written back by the rewrite; the trailing group does the same.
_LEAD, _TRAIL = "(^|[^0-9])", "([^0-9]|$)"


@dataclass(frozen=True)
class _TextRule:
    """One pass over free text: an RE2/Python pattern and its rewrites per level."""

    name: str
    pattern: str
    partial: str
    full: str
    # The trailing boundary consumes the separator the next item would need as its leading
    # boundary, so a second pass catches items that follow a masked one ("A,B").
    passes: int = 2


FREE_TEXT_RULES: Final[tuple[_TextRule, ...]] = (
    _TextRule("email", r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})",
              r"\1***@\2", "***@***", passes=1),
    _TextRule("id_number", _LEAD + f"({_PROVINCE}[0-9]{{4}}){_DATE}([0-9]{{3}}[0-9Xx])" + _TRAIL,
              r"\1\2********\3\4", r"\1******************\4"),
    # Grouped 19 digits (4-4-4-4-3) before 16 (4-4-4-4): the shorter would match a prefix.
    _TextRule("bank_card_19", _LEAD + r"([0-9]{4})(?:[ -][0-9]{4}){2}[ -][0-9]{3}([0-9])[ -]([0-9]{3})" + _TRAIL,
              r"\1\2 **** **** \3\4\5", r"\1**** **** **** ****\5"),
    _TextRule("bank_card_16", _LEAD + r"([0-9]{4})(?:[ -][0-9]{4}){2}[ -]([0-9]{4})" + _TRAIL,
              r"\1\2 **** **** \3\4", r"\1**** **** **** ****\4"),
    _TextRule("bank_card", _LEAD + r"([0-9]{4})[0-9]{8,11}([0-9]{4})" + _TRAIL,
              r"\1\2 **** **** \3\4", r"\1**** **** **** ****\4"),
    _TextRule("phone", _LEAD + r"((?:\+?86[ -]?)?1[3-9][0-9])([ -]?)[0-9]{4}([ -]?[0-9]{4})" + _TRAIL,
              r"\1\2\3****\4\5", r"\1***********\5"),
)


def _python_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("$", r"\Z"))


def _python_rewrite(rewrite: str) -> str:
    # \g<1> cannot be misread as group 12 when a digit follows; RE2 only knows \1.
    return re.sub(r"\\([0-9])", r"\\g<\1>", rewrite)


_FREE_TEXT_PY: Final = tuple(
    (_python_pattern(rule.pattern), _python_rewrite(rule.partial), _python_rewrite(rule.full), rule.passes)
    for rule in FREE_TEXT_RULES
)


# ---------------------------------------------------------------------------------------------
# Scalar maskers (partial level); every one maps "" to "".
# ---------------------------------------------------------------------------------------------


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_name(value: str) -> str:
    if not value:
        return value
    keep = 2 if len(value) > 2 and value[:2] in COMPOUND_SURNAMES else 1
    return value[:keep] + "*" * max(len(value) - keep, 1)


def mask_phone(value: str) -> str:
    if len(value) == 11:
        return value[:3] + "****" + value[7:]
    if len(value) >= 8:
        return "*" * (len(value) - 4) + value[-4:]
    return "*" * len(value)


def mask_address(value: str) -> str:
    if not value:
        return value
    match = _ADDRESS_PY.match(value)
    return (match.group(0) if match else "") + "****"


def mask_bank_card(value: str) -> str:
    digits = value.replace(" ", "").replace("-", "")
    if 12 <= len(digits) <= 19 and digits.isascii() and digits.isdigit():
        return digits[:4] + " **** **** " + digits[-4:]
    return "*" * len(value)


def mask_email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    return local[0] + "***@" + domain if at and local else "*" * len(value)


def mask_free_text(value: str, level: MaskLevel = "partial") -> str:
    if level == "none":
        return value
    for pattern, partial, full, passes in _FREE_TEXT_PY:
        for _ in range(passes):
            value = pattern.sub(partial if level == "partial" else full, value)
    return value


MASKERS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
    "bank_card": mask_bank_card,
    "email": mask_email,
    "free_text": mask_free_text,
}


def _check(kind: str, level: str) -> None:
    # An unknown kind must not fall through unmasked: a typo would publish personal data.
    if kind not in MASKERS:
        raise ValueError(f"unknown field kind {kind!r}; expected one of {', '.join(FIELD_KINDS)}")
    if level not in MASK_LEVELS:
        raise ValueError(f"unknown mask level {level!r}; expected one of {', '.join(MASK_LEVELS)}")


def mask(kind: str, value: str | None, level: MaskLevel = "partial") -> str | None:
    """The masked form of ``value`` for a field of ``kind`` at ``level``; ``None`` stays ``None``.

    Raises ``ValueError`` for an unknown kind or level.
    """
    _check(kind, level)
    if value is None or level == "none":
        return value
    if kind == "free_text":
        return mask_free_text(value, level)
    if level == "full":
        return "*" * len(value)
    return MASKERS[kind](value)


# ---------------------------------------------------------------------------------------------
# Vectorised maskers: the same rules as pyarrow.compute expressions.
# ---------------------------------------------------------------------------------------------


class _Column:
    """One string array and the expression helpers every vectorised rule uses."""

    def __init__(self, values: pa.Array) -> None:
        import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

        self.pa, self.pc, self.values = pa, pc, values

    @cached_property
    def n(self) -> pa.Array:  # code points, as Python's len(); computed only by the rules that need it
        return self.pc.utf8_length(self.values)

    def lit(self, text: str) -> pa.Scalar:  # a literal of the input's string type
        return self.pa.scalar(text, type=self.values.type)

    def stars(self, count: pa.Array, minimum: int = 0) -> pa.Array:
        # skip_nulls=False: a null value's count stays null instead of becoming the minimum.
        return self.pc.binary_repeat(self.lit("*"), self.pc.max_element_wise(count, minimum, skip_nulls=False))

    def join(self, *parts: pa.Array | pa.Scalar) -> pa.Array:
        return self.pc.binary_join_element_wise(*parts, self.lit(""))

    def head(self, stop: int, of: pa.Array | None = None) -> pa.Array:
        return self.pc.utf8_slice_codeunits(self.values if of is None else of, 0, stop)

    def tail(self, start: int, of: pa.Array | None = None) -> pa.Array:
        return self.pc.utf8_slice_codeunits(self.values if of is None else of, start)

    def all_of_length(self, length: int) -> bool:
        return self.pc.all(self.pc.equal(self.n, length)).as_py() is not False  # nulls and empty arrays qualify

    def absent(self, candidates: tuple[str, ...]) -> str | None:
        """The first of ``candidates`` that occurs nowhere in the data buffer (a conservative test)."""
        _, offsets, data = self.values.buffers()
        raw = b""
        if data is not None and len(self.values):  # only this array's bytes: a slice shares its parent's buffer
            width = 8 if self.pa.types.is_large_string(self.values.type) else 4
            first, last = (int.from_bytes(offsets[(self.values.offset + i) * width:][:width], "little", signed=True)
                           for i in (0, len(self.values)))
            raw = data.slice(first, last - first).to_pybytes()
        return next((text for text in candidates if text.encode() not in raw), None)

    def keep_empty(self, masked: pa.Array) -> pa.Array:
        # Byte length 0 is the empty string (offsets only, cheaper than code points); a null length
        # is a null value, and if_else's null condition keeps it null. No empty value: nothing to do.
        length = self.pc.binary_length(self.values)
        if (self.pc.min(length).as_py() or 0) > 0:
            return masked
        return self.pc.if_else(self.pc.equal(length, 0), self.lit(""), masked)

    def through_distinct(self, rule: Callable[[_Column], pa.Array], key: pa.Array | None = None) -> pa.Array:
        """``rule`` run once per distinct ``key`` (default: the values) and taken back to every row.

        Only correct when the rule's result for a row depends on the row's key alone; a null key
        gives a null result.
        """
        encoded = self.pc.dictionary_encode(self.values if key is None else key)
        return rule(_Column(encoded.dictionary)).take(encoded.indices)

    def repeats(self, sample: int, ratio: float) -> bool:
        """Whether the first ``sample`` rows hold at most ``ratio`` distinct values per row (a cheap hint)."""
        head = self.values.slice(0, sample)
        return len(head) > 0 and self.pc.count_distinct(head).as_py() <= ratio * len(head)


def _v_id_number(c: _Column) -> pa.Array:
    if c.all_of_length(18):  # the usual case: one kernel
        return c.pc.utf8_replace_slice(c.values, 6, -4, "********")
    long = c.join(c.head(6), c.stars(c.pc.subtract(c.n, 10)), c.tail(-4))
    return c.pc.if_else(c.pc.greater(c.n, 10), long, c.stars(c.n))


def _v_name(c: _Column) -> pa.Array:
    # Names repeat (张伟, 王芳): masking the distinct ones and taking them back by index halves the
    # cost then; a batch of nearly unique names skips the hash table.
    if c.repeats(_NAME_SAMPLE, _NAME_DISTINCT_RATIO):
        return c.through_distinct(_v_name_rule)
    return _v_name_rule(c)


def _v_name_rule(c: _Column) -> pa.Array:
    pc = c.pc
    # A hash lookup of the first two characters: several times faster than the alternation regex.
    two = c.head(2)
    compound = pc.and_(pc.greater(c.n, 2), pc.is_in(two, value_set=c.pa.array(_COMPOUND_SORTED, type=c.values.type)))
    if pc.any(compound).as_py():
        keep, head = pc.if_else(compound, 2, 1), pc.if_else(compound, two, c.head(1))
    else:
        keep, head = c.pa.scalar(1), c.head(1)
    return c.keep_empty(c.join(head, c.stars(pc.subtract(c.n, keep), minimum=1)))


def _v_phone(c: _Column) -> pa.Array:
    eleven = c.pc.utf8_replace_slice(c.values, 3, 7, "****")
    if c.all_of_length(11):
        return eleven
    last_four = c.join(c.stars(c.pc.subtract(c.n, 4)), c.tail(-4))
    return c.pc.if_else(c.pc.equal(c.n, 11), eleven, c.pc.if_else(c.pc.greater_equal(c.n, 8), last_four, c.stars(c.n)))


def _v_address(c: _Column) -> pa.Array:
    pc = c.pc
    # The part of each value that decides its match (see _ADDRESS_TAIL): the tail cut first, so
    # values whose rest is short need no slicing at all.
    key = pc.utf8_rtrim(c.values, _ADDRESS_TAIL)
    if (pc.max(pc.utf8_length(key)).as_py() or 0) > _ADDRESS_REACH:
        key = pc.utf8_rtrim(c.head(_ADDRESS_REACH, key), _ADDRESS_TAIL)
    # The rule per distinct key; a key cut to "" (no prefix) still gives ****, so only the
    # values that were empty go back to "".
    return c.keep_empty(c.through_distinct(_address_with_stars, key))


def _address_with_stars(c: _Column) -> pa.Array:
    """The kept prefix ("" when none) followed by ****, for every non-null value, the empty one included."""
    pc = c.pc
    sentinel = c.absent(_SENTINELS)
    if sentinel is None:  # every candidate occurs in the data (never in practice): the capture-group path
        found = pc.struct_field(pc.extract_regex(c.values, f"^(?P<keep>{ADDRESS_PREFIX})"), "keep")
        return c.join(pc.coalesce(found, c.lit("")), c.lit("****"))
    # A capture group sends RE2 to its slow submatch engines (~50x here). Without one, the match
    # bounds come from the DFA alone: the whole match (\0) is written back followed by a sentinel
    # the data does not contain, and the value is cut at the first sentinel.
    marked = pc.replace_substring_regex(c.values, _ADDRESS_ANCHORED, "\\0" + sentinel)
    pieces = pc.split_pattern(marked, sentinel, max_splits=1)
    kept = pc.if_else(pc.equal(pc.list_value_length(pieces), 2), pc.list_element(pieces, 0), c.lit(""))
    return c.join(kept, c.lit("****"))


def _v_bank_card(c: _Column) -> pa.Array:
    pc = c.pc
    digits = pc.replace_substring(pc.replace_substring(c.values, " ", ""), "-", "")
    m = pc.utf8_length(digits)
    is_card = pc.and_(pc.and_(pc.greater_equal(m, 12), pc.less_equal(m, 19)), pc.match_substring_regex(digits, "^[0-9]*$"))
    return pc.if_else(is_card, c.join(c.head(4, digits), c.lit(" **** **** "), c.tail(-4, digits)), c.stars(c.n))


def _v_email(c: _Column) -> pa.Array:
    pc = c.pc
    # Split once at the last "@" (a literal search, no regex): [local part, domain] when there is one.
    parts = pc.split_pattern(c.values, "@", max_splits=1, reverse=True)
    pairs = pc.if_else(pc.equal(pc.list_value_length(parts), 2), parts, None)
    local = pc.list_element(pairs, 0)
    masked = c.join(c.head(1, local), c.lit("***@"), pc.list_element(pairs, 1))
    # No "@" or an empty local part: stars (a null local part or a null join falls through to them).
    return pc.if_else(pc.fill_null(pc.greater(pc.utf8_length(local), 0), False), masked, c.stars(c.n))


_VECTOR_PARTIAL: Final[dict[str, Callable[[_Column], pa.Array]]] = {
    "id_number": _v_id_number, "name": _v_name, "phone": _v_phone, "address": _v_address,
    "bank_card": _v_bank_card, "email": _v_email,
}


def _vector_mask(kind: str, level: str, values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

    if kind == "free_text":
        for rule in FREE_TEXT_RULES:
            for _ in range(rule.passes):
                # Finding without submatches runs on RE2's DFA; the rewrite needs the (slow) capture
                # groups, so it runs only on the rows that contain an item, and not at all when none does.
                hit = pc.fill_null(pc.match_substring_regex(values, rule.pattern), False)
                hits = pc.sum(hit).as_py() or 0
                if not hits:
                    break
                rewrite = rule.partial if level == "partial" else rule.full
                if hits == len(values):
                    values = pc.replace_substring_regex(values, rule.pattern, rewrite)
                else:
                    replaced = pc.replace_substring_regex(pc.filter(values, hit), rule.pattern, rewrite)
                    values = pc.replace_with_mask(values, hit, replaced)
        return values
    column = _Column(values)
    return column.stars(column.n) if level == "full" else _VECTOR_PARTIAL[kind](column)


def _mask_chunk(kind: str, level: str, values: pa.Array) -> pa.Array:
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    if level == "none" or pa.types.is_null(values.type):
        return values
    if pa.types.is_dictionary(values.type):
        # Mask each distinct value once; the indices stay as they are.
        return pa.DictionaryArray.from_arrays(values.indices, _mask_chunk(kind, level, values.dictionary))
    if pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise TypeError(f"cannot mask a {values.type} array; masking works on strings")
    return _vector_mask(kind, level, values)


def mask_array(kind: str, array: pa.Array | pa.ChunkedArray, level: MaskLevel = "partial") -> pa.Array | pa.ChunkedArray:
    """``mask`` over a whole Arrow array; a chunked array comes back chunked, not copied together.

    String, large-string, string-view and dictionary-of-string arrays are accepted; dictionary
    arrays are masked through their dictionary. Raises ``ValueError`` for an unknown kind or level.
    """
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    _check(kind, level)
    if isinstance(array, pa.ChunkedArray):
        chunks = [_mask_chunk(kind, level, chunk) for chunk in array.chunks]
        return pa.chunked_array(chunks, type=chunks[0].type if chunks else None) if chunks else array
    return _mask_chunk(kind, level, array)


def mask_table(
    table: pa.Table,
    field_kinds: Mapping[str, str],
    level: MaskLevel | Mapping[str, MaskLevel] = "partial",
    *,
    use_threads: bool = True,
) -> pa.Table:
    """``table`` with each column named in ``field_kinds`` masked as that kind.

    ``level`` is one level for every listed column or a mapping per column (missing columns
    default to ``partial``). Columns not listed are returned untouched. With ``use_threads`` the
    column chunks are masked in parallel: the Arrow kernels release the GIL.
    """
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

    missing = sorted(set(field_kinds) - set(table.column_names))
    if missing:
        raise ValueError(f"the table has no column {', '.join(map(repr, missing))} to mask")
    levels = {name: level if isinstance(level, str) else level.get(name, "partial") for name in field_kinds}
    for name, kind in field_kinds.items():
        _check(kind, levels[name])
    tasks = [(name, i, chunk) for name in field_kinds for i, chunk in enumerate(table.column(name).chunks)]

    def run(task: tuple[str, int, pa.Array]) -> pa.Array:
        name, _, chunk = task
        return _mask_chunk(field_kinds[name], levels[name], chunk)

    if use_threads and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=min(len(tasks), pa.cpu_count())) as pool:
            results = list(pool.map(run, tasks))
    else:
        results = [run(task) for task in tasks]
    masked: dict[str, list[pa.Array]] = {name: [] for name in field_kinds}
    for (name, _, _), result in zip(tasks, results, strict=True):
        masked[name].append(result)
    for name, chunks in masked.items():
        column = pa.chunked_array(chunks, type=chunks[0].type) if chunks else table.column(name)
        table = table.set_column(table.schema.get_field_index(name), pa.field(name, column.type), column)
    return table
