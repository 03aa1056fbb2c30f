"""The Q&A retrieval index: field-weighted BM25 over a sparse term matrix (numpy/scipy).

Fields, strongest first: the item's name, its curated aliases, FAQ questions, materials, the
department and the life event; plus synonym concepts, character bigrams (typos, segmentation)
and pinyin bigrams (homophone typos). Scores of every field are summed with the field's weight,
so one sparse matrix–vector product ranks the whole catalogue. 实施清单 entries are indexed by
place (district, office) so an answer points at the office in the district the citizen names.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from xingcheng.egov.qa import text

K1 = 1.2


@dataclass(frozen=True)
class FieldSpec:
    weight: float
    b: float  # BM25 length normalisation


# name > aliases > FAQ > materials / department; concepts, bigrams and pinyin back them up.
FIELDS: dict[str, FieldSpec] = {
    "n": FieldSpec(3.0, 0.5),  # name words
    "a": FieldSpec(2.0, 0.2),  # alias words
    "q": FieldSpec(1.2, 0.3),  # FAQ question words
    "m": FieldSpec(0.6, 0.5),  # material words
    "d": FieldSpec(0.4, 0.3),  # department and life event words
    "cn": FieldSpec(2.0, 0.3),  # synonym concepts found in the name
    "ca": FieldSpec(1.2, 0.1),  # synonym concepts found in aliases and FAQ
    "bn": FieldSpec(1.0, 0.5),  # name character bigrams
    "ba": FieldSpec(0.5, 0.2),  # alias character bigrams
    "p": FieldSpec(0.35, 0.3),  # pinyin bigrams of name and aliases
}
# Near-twins are told apart only by what the question says; a gap smaller than this between two
# members of one family means the question did not say it, so the answer asks.
CLARIFY_RATIO = 0.85
MIN_ANSWER_SCORE = 6.0
OTHER_FIELDS_SHARE = 0.25
COVERAGE_WEIGHT = 0.5
BINARY_FIELDS = frozenset({"a", "ca", "ba", "p"})
# Items whose name carries an after-the-fact action (补领, 注销, 变更, 换领 …) are the less likely
# reading unless the question speaks of that action: 烟草证怎么办 means 核发, not 注销.
ACTIONS: dict[str, tuple[str, ...]] = {
    "补领": ("补领", "补办", "补发", "挂失", "遗失", "补证", "补换"),
    "注销": ("注销", "销户"),
    "变更": ("变更", "更名", "更正"),
    "换领": ("换领", "换证", "换发", "延续", "延期"),
}
ACTION_MISMATCH = 0.7
# Words that say "some procedure" rather than which one: they count, but little.
GENERIC_WORDS = frozenset(str.split(
    "审批 许可 许可证 注册 登记 申请 申领 办理 备案 证明 开具 核发 认定 手续 证 资格 核准 审核 服务 信息 "
    "经营 管理 设立 材料 资料 条件 要求 多久 费用 事项"
))
GENERIC_WEIGHT = 0.35


@dataclass(frozen=True)
class ItemDoc:
    code: str
    name: str
    department_code: str
    department_name: str
    department_short: str
    life_event: str
    materials: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    faq: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlaceDoc:
    """One 实施清单 entry, indexed by where it is handled."""

    id: int
    item_code: str
    division_code: str
    division_name: str
    level: str
    office_name: str


@dataclass
class Hit:
    code: str
    score: float
    matched: list[str]  # query terms that matched, most weight first
    fields: dict[str, float]  # score per field
    place_id: int | None = None


@dataclass
class Clarification:
    question: str
    family: str
    options: list[tuple[str, str]]  # (item code, what tells it apart)


@dataclass
class SearchResult:
    hits: list[Hit]
    terms: list[str]
    expansions: list[text.Expansion]
    clarification: Clarification | None
    district: str | None
    answered: bool


def _family_stem(name: str) -> str | None:
    match = re.match(r"^(.{2,}?)（.+）$", name)
    return match.group(1) if match else None


def families(docs: Sequence[ItemDoc]) -> dict[str, tuple[str, str]]:
    """item code → (family, distinguishing label) for near-twins: names that differ only in a
    parenthesised situation (住房公积金提取（退休）…) or share a head term of four or more
    characters (居民身份证首次申领, 居民身份证换领 …; 残疾人证新办 …)."""
    out: dict[str, tuple[str, str]] = {}
    by_stem: dict[str, list[ItemDoc]] = defaultdict(list)
    for doc in docs:
        stem = _family_stem(doc.name)
        if stem:
            by_stem[stem].append(doc)
    for stem, members in by_stem.items():
        if len(members) > 1:
            for doc in members:
                out[doc.code] = (stem, doc.name[len(stem):].strip("（）"))
    names = sorted((d for d in docs if d.code not in out), key=lambda d: d.name)
    # In sorted order the longest prefix a name shares with any other is shared with a neighbour.
    for i, doc in enumerate(names):
        neighbours = [names[j].name for j in (i - 1, i + 1) if 0 <= j < len(names)]
        best = max((_common_prefix(doc.name, other) for other in neighbours), key=len, default="")
        if len(best) >= 4:
            out[doc.code] = (best, doc.name[len(best):] or doc.name)
    # Contained heads: 临时居民身份证办理 is a twin of the 居民身份证 family too.
    heads = {fam for fam, _ in out.values()}
    for doc in names:
        if doc.code in out:
            continue
        for head in heads:
            if len(head) >= 4 and head in doc.name:
                out[doc.code] = (head, doc.name.replace(head, "…"))
                break
    return out


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]


@dataclass
class QueryTerms:
    """Query keys with weights, grouped by the unit of meaning they came from: one word (in
    every field), one synonym concept, one bigram. A group scores its best field fully and the
    other fields a little, so a term found in five fields does not count five times (BM25F's idea)."""

    weights: dict[str, float] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, weight: float = 1.0, group: str | None = None) -> None:
        if weight > self.weights.get(key, 0.0):
            self.weights[key] = weight
        self.groups.setdefault(key, group or key)


class QaIndex:
    """Built once per catalogue/FAQ version; ``search`` is read-only and thread-safe."""

    def __init__(self, docs: Sequence[ItemDoc], places: Sequence[PlaceDoc] = ()) -> None:
        self.docs = list(docs)
        self.places = list(places)
        self.position = {doc.code: i for i, doc in enumerate(self.docs)}
        self.families = families(self.docs)
        text.add_words(self._vocabulary_words())
        self.vocab: dict[str, int] = {}
        self.matrix = self._build_matrix()
        self.life_events: dict[str, list[str]] = defaultdict(list)
        for doc in self.docs:
            self.life_events[doc.life_event].append(doc.code)
        self.actions = [frozenset(a for a, markers in ACTIONS.items() if any(m in doc.name for m in markers))
                        for doc in self.docs]
        self.places_by_item: dict[str, list[PlaceDoc]] = defaultdict(list)
        for place in self.places:
            self.places_by_item[place.item_code].append(place)
        self.districts = sorted({(p.division_code, p.division_name) for p in self.places if p.level != "city"})

    @property
    def size(self) -> int:
        return len(self.docs) + len(self.places)

    def _vocabulary_words(self) -> list[str]:
        out: list[str] = []
        for doc in self.docs:
            out.extend(doc.aliases)
            stem = _family_stem(doc.name)
            if stem:
                out.append(stem)
                out.append(doc.name[len(stem):].strip("（）"))
        return out

    @staticmethod
    def _concepts(strings: Iterable[str]) -> list[str]:
        out: list[str] = []
        for value in strings:
            out.extend(e.canonical for e in text.expansions(value, text.words(value)))
        return out

    def _doc_fields(self, doc: ItemDoc) -> dict[str, list[str]]:
        alias_text = " ".join(doc.aliases)
        return {
            "n": text.words(doc.name),
            "a": [w for alias in doc.aliases for w in text.words(alias)],
            "q": [w for question in doc.faq for w in text.words(question)],
            "m": [w for material in doc.materials for w in text.words(material)],
            "d": text.words(f"{doc.department_name} {doc.department_short} {doc.life_event}"),
            "cn": self._concepts([doc.name]),
            "ca": self._concepts([*doc.aliases, *doc.faq]),
            "bn": text.bigrams(doc.name),
            "ba": text.bigrams(alias_text),
            "p": text.pinyin_bigrams(f"{doc.name} {alias_text}"),
        }

    def _build_matrix(self) -> sparse.csc_matrix:
        per_doc = [self._doc_fields(doc) for doc in self.docs]
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        n_docs = max(len(self.docs), 1)
        for name, spec in FIELDS.items():
            # Alias-like fields list phrasings, not emphasis: a word said in five aliases counts once.
            counts = [Counter(set(fields[name]) if name in BINARY_FIELDS else fields[name]) for fields in per_doc]
            lengths = np.array([sum(c.values()) for c in counts], dtype=float)
            # Average over the documents that have the field: most items have no FAQ pair yet.
            present = lengths[lengths > 0]
            average = float(present.mean()) if len(present) else 1.0
            df: Counter[str] = Counter()
            for c in counts:
                df.update(c.keys())
            for doc_index, c in enumerate(counts):
                norm = K1 * (1 - spec.b + spec.b * lengths[doc_index] / average)
                for term, tf in c.items():
                    idf = math.log(1 + (n_docs - df[term] + 0.5) / (df[term] + 0.5))
                    key = f"{name}:{term}"
                    column = self.vocab.setdefault(key, len(self.vocab))
                    rows.append(doc_index)
                    cols.append(column)
                    values.append(spec.weight * idf * tf * (K1 + 1) / (tf + norm))
        return sparse.csc_matrix((values, (rows, cols)), shape=(len(self.docs), max(len(self.vocab), 1)))

    def query_terms(self, question: str) -> tuple[QueryTerms, list[str], list[text.Expansion]]:
        terms = QueryTerms()
        words = text.words(question)
        for word in words:
            weight = GENERIC_WEIGHT if word in GENERIC_WORDS else 1.0
            for name in ("n", "a", "q", "m", "d"):
                terms.add(f"{name}:{word}", weight, f"w:{word}")
        found = text.expansions(question, words)
        for expansion in found:
            weight = 0.8 if expansion.by_pinyin else 1.0
            if expansion.canonical in GENERIC_WORDS:
                weight *= GENERIC_WEIGHT
            group = f"c:{expansion.canonical}"
            terms.add(f"cn:{expansion.canonical}", weight, group)
            terms.add(f"ca:{expansion.canonical}", weight, group)
            # The canonical term's own words count too, a little less than words actually said.
            for word in text.words(expansion.canonical):
                for name in ("n", "a"):
                    terms.add(f"{name}:{word}", 0.6 * weight, group)
        for pair in text.bigrams(question):
            terms.add(f"bn:{pair}", 1.0, f"b:{pair}")
            terms.add(f"ba:{pair}", 1.0, f"b:{pair}")
        for pair in text.pinyin_bigrams(question):
            terms.add(f"p:{pair}")
        return terms, words, found

    def detect_district(self, question: str) -> tuple[str, str] | None:
        norm = text.normalise(question)
        for code, name in self.districts:
            short = name[:-1] if len(name) > 2 else name
            if name in norm or short in norm:
                return code, name
        return None

    def search(self, question: str, *, limit: int = 3) -> SearchResult:
        terms, words, found = self.query_terms(question)
        ids = [(self.vocab[key], w) for key, w in terms.weights.items() if key in self.vocab]
        if not ids or not self.docs:
            return SearchResult([], words, found, None, None, False)
        group_names = [terms.groups[key] for key in terms.weights if key in self.vocab]
        ordering = sorted(range(len(ids)), key=lambda i: group_names[i])
        columns = np.fromiter((ids[i][0] for i in ordering), dtype=np.int64, count=len(ids))
        weights = np.fromiter((ids[i][1] for i in ordering), dtype=float, count=len(ids))
        sorted_groups = [group_names[i] for i in ordering]
        starts = np.array([i for i in range(len(sorted_groups)) if i == 0 or sorted_groups[i] != sorted_groups[i - 1]])
        sub = self.matrix[:, columns]
        weighted = sub.toarray() * weights
        best = np.maximum.reduceat(weighted, starts, axis=1)
        total = np.add.reduceat(weighted, starts, axis=1)
        per_group = best + OTHER_FIELDS_SHARE * (total - best)
        scores: NDArray[np.float64] = per_group.sum(axis=1)
        # Coverage: of the words and concepts of the question that some item knows, the share this
        # item matches. An item that answers the whole question beats one that echoes one word loudly.
        meaning = np.array([sorted_groups[i][:2] in ("w:", "c:") for i in starts], dtype=bool)
        if meaning.any():
            known = (per_group[:, meaning] > 0).any(axis=0)
            if known.any():
                matched_share = (per_group[:, meaning][:, known] > 0).sum(axis=1) / known.sum()
                scores = scores * (1 - COVERAGE_WEIGHT + COVERAGE_WEIGHT * matched_share)
        norm = text.normalise(question)
        said = {e.canonical for e in found} | {a for a, markers in ACTIONS.items() if any(m in norm for m in markers)}
        penalty = np.array([ACTION_MISMATCH if actions - said else 1.0 for actions in self.actions])
        scores = scores * penalty
        ranked = np.argsort(-scores, kind="stable")[: max(limit, 3)]
        order = [int(i) for i in ranked if scores[i] > 0]
        district = self.detect_district(question)
        key_of = {self.vocab[key]: key for key in terms.weights if key in self.vocab}
        hits = []
        for doc_index in order[:limit]:
            row = weighted[doc_index]
            by_field: dict[str, float] = defaultdict(float)
            contributions: dict[str, float] = defaultdict(float)
            for position in np.nonzero(row)[0]:
                key = key_of[int(columns[position])]
                field_name, term = key.split(":", 1)
                by_field[field_name] += float(row[position])
                if field_name not in ("p",):
                    contributions[term] += float(row[position])
            terms_ranked = [t for t, _ in sorted(contributions.items(), key=lambda p: -p[1]) if len(t) > 1]
            # 公积金 explains the match better than its pieces 公积 and 积金.
            matched = [t for t in terms_ranked if not any(t != other and t in other for other in terms_ranked)][:8]
            code = self.docs[doc_index].code
            hits.append(Hit(code, round(float(scores[doc_index]), 4), matched,
                            {k: round(v, 3) for k, v in by_field.items()}, self._place(code, district)))
        answered = bool(hits) and hits[0].score >= MIN_ANSWER_SCORE
        clarification = self._clarify(hits) if answered else None
        return SearchResult(hits, words, found, clarification, district[1] if district else None, answered)

    def _place(self, code: str, district: tuple[str, str] | None) -> int | None:
        places = self.places_by_item.get(code, [])
        if not places:
            return None
        if district:
            for place in places:
                if place.division_code == district[0]:
                    return place.id
        city = [p for p in places if p.level == "city"]
        return (city or places)[0].id

    def _clarify(self, hits: list[Hit]) -> Clarification | None:
        if len(hits) < 2:
            return None
        first = self.families.get(hits[0].code)
        if first is None:
            return None
        twins = [h for h in hits[1:] if self.families.get(h.code, ("", ""))[0] == first[0]
                 and h.score >= CLARIFY_RATIO * hits[0].score]
        if not twins:
            return None
        members = [code for code, (family, _) in self.families.items() if family == first[0]]
        members.sort(key=lambda c: (c not in {h.code for h in hits}, self.position[c]))
        options = [(code, self.families[code][1]) for code in members]
        return Clarification(f"您要办理的是“{first[0]}”中的哪一种情形？", first[0], options)

    def follow_ups(self, code: str, exclude: Iterable[str], limit: int = 5) -> list[str]:
        """智能导引: the other items of the same life event (生了孩子 → 出生医学证明, 户口登记 …)."""
        doc = self.docs[self.position[code]]
        skip = set(exclude)
        return [c for c in self.life_events.get(doc.life_event, []) if c not in skip][:limit]
