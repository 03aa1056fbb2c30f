"""Chinese full-text search over the catalogue: jieba tokens in a token table, BM25 ranked in SQL.

One portable index for SQLite and PostgreSQL: ``catalog_search_token`` holds each dataset's
tokens (jieba's search-engine mode, so 企业登记信息 also yields 企业 and 登记) with a field-weighted
term frequency. A query is segmented the same way; IDF per query token comes from one GROUP BY,
and the BM25 sum is computed in SQL over the postings, filtered by the facet filters.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Float, Select, Table, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from xingcheng.datahub.catalog.models import Dataset, DatasetTag, SearchToken

K1, B = 1.2, 0.75
PHRASE_BONUS = 5.0
# Where a word appears counts: a hit in the title outweighs one in the description.
WEIGHTS = {"title": 3.0, "tags": 2.0, "fields": 1.5, "description": 1.0, "slug": 1.0}
_WORD = re.compile(r"[^\W_]", re.UNICODE)  # a letter, digit or CJK character; "_" alone is no word
_STOP = frozenset(("的", "和", "与", "及", "或", "等", "了", "在", "是", "对", "为", "由", "按", "各", "其", "之", "中",
                   "数据", "信息"))
FACETS = ("department", "category", "grade", "tag")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba  # type: ignore[import-untyped, unused-ignore]

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: jieba search mode, lowercased, punctuation and stop words dropped."""
    out = []
    for token in _jieba().cut_for_search(text.lower()):
        token = token.strip()
        if token and _WORD.search(token) and token not in _STOP and len(token) <= 64:
            out.append(token)
    return out


def query_tokens(text: str) -> list[str]:
    found = list(dict.fromkeys(tokens(text)))
    # A query of only stop words (e.g. 数据) still searches for them rather than for nothing.
    return found or [t for t in dict.fromkeys(_jieba().cut_for_search(text.lower())) if t.strip()][:10]


def document(dataset: Dataset, field_texts: Iterable[str]) -> dict[str, float]:
    """Weighted term frequencies of one dataset's searchable text."""
    counts: dict[str, float] = defaultdict(float)
    parts = {
        "title": [dataset.title], "description": [dataset.description], "tags": list(dataset.tags or []),
        "fields": list(field_texts), "slug": [dataset.slug.replace("/", " ").replace("-", " ")],
    }
    for part, texts in parts.items():
        for text in texts:
            for token in tokens(text):
                counts[token] += WEIGHTS[part]
    return counts


def index_dataset(session: Session, dataset: Dataset, field_texts: Iterable[str]) -> None:
    counts = document(dataset, field_texts)
    session.execute(delete(SearchToken).where(SearchToken.dataset_id == dataset.id))
    if counts:
        session.execute(insert(cast(Table, SearchToken.__table__)),
                        [{"dataset_id": dataset.id, "token": t, "tf": tf} for t, tf in counts.items()])
    dataset.search_length = max(1, round(sum(counts.values())))


def _filtered(filters: dict[str, str | None]) -> Select[int]:
    statement = select(Dataset.id)
    if filters.get("department"):
        statement = statement.where(Dataset.owner_department_code == filters["department"])
    if filters.get("category"):
        statement = statement.where(Dataset.category == filters["category"])
    if filters.get("grade"):
        statement = statement.where(Dataset.grade == filters["grade"])
    if filters.get("tag"):
        statement = statement.where(Dataset.id.in_(select(DatasetTag.dataset_id).where(DatasetTag.tag == filters["tag"])))
    return statement


def scores(session: Session, words: Sequence[str], candidates: Select[int]) -> Select[int, float]:
    """(dataset id, BM25 score) of every candidate matching at least one of ``words``, best first."""
    n = session.scalar(select(func.count()).select_from(Dataset)) or 1
    avg = float(session.scalar(select(func.avg(Dataset.search_length))) or 1.0) or 1.0
    df = dict(session.execute(select(SearchToken.token, func.count()).where(SearchToken.token.in_(words))
                              .group_by(SearchToken.token)).all())
    idf = {w: math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5)) for w in words if w in df}
    if not idf:
        return select(Dataset.id.label("dataset_id"), literal(0.0, Float).label("score")).where(literal(False))
    weight: ColumnElement[float] = case(*((SearchToken.token == w, literal(v, Float)) for w, v in idf.items()), else_=0.0)
    norm = SearchToken.tf + K1 * (1 - B + B * Dataset.search_length / avg)
    score = func.sum(weight * SearchToken.tf * (K1 + 1) / norm).label("score")
    return (select(SearchToken.dataset_id, score)
            .join(Dataset, Dataset.id == SearchToken.dataset_id)
            .where(SearchToken.token.in_(list(idf)), SearchToken.dataset_id.in_(candidates))
            .group_by(SearchToken.dataset_id))


def search(session: Session, *, q: str | None, filters: dict[str, str | None], limit: int, offset: int,
           ) -> tuple[list[tuple[Dataset, float | None]], int, dict[str, list[tuple[str, int]]]]:
    """A page of datasets (with scores when ``q`` is given), the total, and facet counts over the matches."""
    candidates = _filtered(filters)
    text = (q or "").strip()
    words = query_tokens(text) if text else []
    if words:
        ranked = scores(session, words, candidates).subquery()
        matches: Select[int] = select(ranked.c.dataset_id)
        # The whole query inside the title (a phrase match) outranks scattered word hits.
        phrase = case((Dataset.title.contains(text, autoescape=True), PHRASE_BONUS), else_=0.0)
        total_score = (ranked.c.score + phrase).label("score")
        page = session.execute(
            select(Dataset, total_score).join(ranked, ranked.c.dataset_id == Dataset.id)
            .order_by(total_score.desc(), Dataset.slug).limit(limit).offset(offset)
        ).all()
        items: list[tuple[Dataset, float | None]] = [(d, round(float(s), 4)) for d, s in page]
    else:
        matches = candidates
        rows = session.scalars(select(Dataset).where(Dataset.id.in_(candidates)).order_by(Dataset.slug)
                               .limit(limit).offset(offset)).all()
        items = [(d, None) for d in rows]
    total = int(session.scalar(select(func.count()).select_from(matches.subquery())) or 0)
    return items, total, facets(session, matches)


def facets(session: Session, matches: Select[int]) -> dict[str, list[tuple[str, int]]]:
    ids = matches
    columns = {"department": Dataset.owner_department_code, "category": Dataset.category, "grade": Dataset.grade}
    out: dict[str, list[tuple[str, int]]] = {}
    for name, column in columns.items():
        rows = session.execute(select(column, func.count()).where(Dataset.id.in_(ids)).group_by(column)
                               .order_by(func.count().desc(), column)).all()
        out[name] = [(str(v), int(c)) for v, c in rows]
    tag_rows = session.execute(select(DatasetTag.tag, func.count()).where(DatasetTag.dataset_id.in_(ids))
                               .group_by(DatasetTag.tag).order_by(func.count().desc(), DatasetTag.tag).limit(30)).all()
    out["tag"] = [(str(v), int(c)) for v, c in tag_rows]
    return out
