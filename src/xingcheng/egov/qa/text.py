"""Chinese text analysis for the Q&A index: normalisation, jieba with the domain dictionary,
colloquial synonym expansion (also by pinyin, for homophone typos), character bigrams and pinyin bigrams.

The same analyser runs over catalogue documents and over questions, so a colloquial word in
either (公积金, 社保, 身份证 …) meets the catalogue's official term (住房公积金, 社会保险, 居民身份证 …).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jieba  # type: ignore[import-untyped, unused-ignore]
from pypinyin import Style, lazy_pinyin

FILLER = "我你他她的了呢吗吧啊呀嘛哦么是在有和就都也还又要想能可怎咋啥哪几该得去来到给把被让对从向这那个请问谢一下"
# Characters that on their own say nothing about a service (kept out of bigrams at both ends).
FILLER_CHARS = frozenset(FILLER)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_HAN = re.compile(r"[\u4e00-\u9fff]")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, punctuation to spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _PUNCT.sub(" ", text).strip()


@dataclass(frozen=True)
class SynonymGroup:
    canonical: str
    variants: tuple[str, ...]


def _data_text(name: str) -> str:
    return resources.files("xingcheng.egov.qa").joinpath("data", name).read_text(encoding="utf-8")


def _lines(name: str) -> Iterable[list[str]]:
    for line in _data_text(name).splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.rstrip("\n").split("\t")


@lru_cache(maxsize=1)
def synonym_groups() -> tuple[SynonymGroup, ...]:
    groups = []
    for fields in _lines("synonyms.tsv"):
        canonical = normalise(fields[0])
        variants = tuple(dict.fromkeys(normalise(v) for v in fields[1].split() if normalise(v) != canonical))
        groups.append(SynonymGroup(canonical, variants))
    return tuple(groups)


@lru_cache(maxsize=1)
def item_aliases() -> dict[str, tuple[str, ...]]:
    """Curated colloquial aliases per item code (``data/aliases.tsv``)."""
    return {fields[0]: tuple(fields[1].split()) for fields in _lines("aliases.tsv") if len(fields) >= 2}


def domain_words() -> list[tuple[str, int]]:
    words = []
    for fields in _lines("domain_dict.txt"):
        parts = fields[0].split()
        words.append((parts[0], int(parts[1]) if len(parts) > 1 else 20))
    return words


_TOKENIZER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def tokenizer() -> jieba.Tokenizer:
    """A private jieba tokenizer (the global one belongs to the data catalogue's search)."""
    with _TOKENIZER_LOCK:
        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
        tk = jieba.Tokenizer()
        tk.initialize()
        for word, freq in domain_words():
            tk.add_word(word, freq=freq * 1000)
        for group in synonym_groups():
            for word in (group.canonical, *group.variants):
                if len(word) >= 2 and _HAN.search(word):
                    tk.add_word(word, freq=20000)
        return tk


def add_words(words: Iterable[str]) -> None:
    """Teach the tokenizer whole service terms (item names' parts, aliases)."""
    tk = tokenizer()
    added = False
    for word in words:
        if 2 <= len(word) <= 12 and _HAN.search(word) and tk.FREQ.get(word, 0) < 20000:
            tk.add_word(word, freq=20000)
            added = True
    if added:
        _words.cache_clear()  # segmentation may change with the new words


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Words that carry no service meaning in a question (``data/stopwords.txt``)."""
    return frozenset(w for line in _data_text("stopwords.txt").splitlines() if not line.startswith("#")
                     for w in line.split())


def words(text: str) -> list[str]:
    """jieba search-mode tokens of normalised text without stopwords."""
    return list(_words(text))


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    out = []
    stop = stopwords()
    for chunk in normalise(text).split():
        for token in tokenizer().cut_for_search(chunk, HMM=False):
            token = token.strip()
            if token and token not in stop:
                out.append(token)
    return tuple(out)


def bigrams(text: str) -> list[str]:
    """Overlapping character bigrams inside runs of Chinese characters (typo and segmentation tolerance)."""
    out = []
    for run in re.findall(r"[\u4e00-\u9fff]+", normalise(text)):
        for i in range(len(run) - 1):
            pair = run[i: i + 2]
            if pair[0] in FILLER_CHARS and pair[1] in FILLER_CHARS:
                continue
            out.append(pair)
    return out


@lru_cache(maxsize=8192)
def char_pinyin(char: str) -> str:
    return lazy_pinyin(char, style=Style.NORMAL)[0]


def pinyin_bigrams(text: str) -> list[str]:
    """Bigrams spelled in toneless pinyin: 公基金 and 公积金 share ``gong ji`` and ``ji jin``."""
    return [char_pinyin(p[0]) + " " + char_pinyin(p[1]) for p in bigrams(text)]


def pinyin_string(text: str) -> str:
    return " ".join(char_pinyin(c) for c in text if _HAN.match(c))


@dataclass(frozen=True)
class Expansion:
    canonical: str
    matched: str  # the variant (or the canonical itself) found in the text
    by_pinyin: bool


@dataclass(frozen=True)
class _SynonymTables:
    by_text: dict[str, tuple[str, ...]]  # variant (or canonical) → canonicals
    by_pinyin: dict[str, tuple[tuple[str, str], ...]]  # pinyin of a 3+ character variant → (variant, canonical)
    longest: int
    longest_pinyin: int


@lru_cache(maxsize=1)
def _synonym_tables() -> _SynonymTables:
    by_text: dict[str, list[str]] = {}
    by_pinyin: dict[str, list[tuple[str, str]]] = {}
    for group in synonym_groups():
        for variant in (group.canonical, *group.variants):
            by_text.setdefault(variant, []).append(group.canonical)
            if len(variant) >= 3 and all(_HAN.match(c) for c in variant):
                by_pinyin.setdefault(pinyin_string(variant), []).append((variant, group.canonical))
    return _SynonymTables(
        {k: tuple(dict.fromkeys(v)) for k, v in by_text.items()},
        {k: tuple(v) for k, v in by_pinyin.items()},
        max((len(k) for k in by_text), default=1),
        max((len(k) for v in by_pinyin.values() for k, _ in v), default=3),
    )


def expansions(text: str, tokens: Iterable[str] = ()) -> list[Expansion]:
    """Synonym groups the text speaks of: a variant as a substring (single characters only as a
    whole token), or — for variants of three characters or more — the same pinyin (身分证 → 身份证)."""
    tables = _synonym_tables()
    norm = normalise(text)
    found: dict[str, Expansion] = {}
    for token in tokens:
        if len(token) == 1:
            for canonical in tables.by_text.get(token, ()):
                found.setdefault(canonical, Expansion(canonical, token, False))
    # Longest variants first, so the recorded match is the most specific one.
    for size in range(min(tables.longest, len(norm)), 1, -1):
        for start in range(len(norm) - size + 1):
            piece = norm[start: start + size]
            for canonical in tables.by_text.get(piece, ()):
                found.setdefault(canonical, Expansion(canonical, piece, False))
    syllables = [char_pinyin(c) for c in norm if _HAN.match(c)]
    for size in range(min(tables.longest_pinyin, len(syllables)), 2, -1):
        for start in range(len(syllables) - size + 1):
            spelled = " ".join(syllables[start: start + size])
            for variant, canonical in tables.by_pinyin.get(spelled, ()):
                found.setdefault(canonical, Expansion(canonical, variant, True))
    return list(found.values())
