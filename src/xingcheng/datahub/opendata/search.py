"""``package_search`` over the public packages: CKAN's q / fq / sort / facets, answered in SQL.

Text queries reuse the catalogue's jieba tokens (``catalog_search_token``) but rank with BM25
statistics taken over the public packages only, so neither counts nor ranking reveal anything
about unpublished or L2+ datasets. ``fq`` understands Solr's ``field:value`` terms CKAN clients
send (``organization:sthj tags:空气 res_format:CSV``, quoted values, ``-`` for negation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, case, func, literal, not_, select
from sqlalchemy.orm import Session

from xingcheng.datahub.catalog import search as catalog_search
from xingcheng.datahub.catalog.models import Dataset, DatasetTag, SearchToken
from xingcheng.datahub.opendata.models import OpenPackage, OpenResource
from xingcheng.datahub.opendata.service import is_public

K1, B, PHRASE_BONUS = 1.2, 0.75, 5.0
FACET_FIELDS = ("organization", "groups", "tags", "res_format", "license_id")
SORT_FIELDS = ("score", "metadata_modified", "metadata_created", "name", "title_string", "title")
DEFAULT_SORT = "score desc, metadata_modified desc"
_TERM = re.compile(r'(?P<sign>[+-]?)(?P<field>[A-Za-z_][A-Za-z0-9_.]*):(?:"(?P<quoted>[^"]*)"|(?P<plain>[^\s"()]+))')
# Terms CKAN's own front end adds that every public package satisfies.
_ALWAYS = {("dataset_type", "dataset"), ("state", "active"), ("capacity", "public"), ("private", "false")}


class SearchQueryError(ValueError):
    """A q, fq or sort CKAN's Solr would refuse; the API answers CKAN's "Search Query Error"."""


@dataclass
class Query:
    q: str = ""
    fq: str = ""
    rows: int = 10
    start: int = 0
    sort: str = DEFAULT_SORT
    facet_fields: list[str] = field(default_factory=list)
    facet_limit: int = 50
    facet_mincount: int = 1


def parse_terms(text: str, *, what: str) -> tuple[list[tuple[bool, str, str]], str]:
    """(negated, field, value) terms of ``text`` and the free text left over."""
    terms: list[tuple[bool, str, str]] = []
    for match in _TERM.finditer(text):
        value = match.group("quoted") if match.group("quoted") is not None else match.group("plain")
        terms.append((match.group("sign") == "-", match.group("field"), value))
    rest = _TERM.sub(" ", text)
    words = [w for w in rest.split() if w not in ("AND", "&&")]
    if any(w in ("OR", "||", "NOT") for w in words) or any(c in rest for c in "()[]{}"):
        raise SearchQueryError(f"{what}: only field:value terms joined by AND are supported, not {rest.strip()!r}")
    return terms, " ".join(words)


def _condition(name: str, value: str) -> ColumnElement[bool] | None:
    if value == "*":
        return None
    if name in ("organization", "owner_org"):
        return Dataset.owner_department_code == value
    if name == "tags":
        return Dataset.id.in_(select(DatasetTag.dataset_id).where(DatasetTag.tag == value))
    if name == "groups":
        return OpenPackage.theme == value
    if name == "res_format":
        return OpenPackage.id.in_(select(OpenResource.package_id).where(func.lower(OpenResource.format) == value.lower()))
    if name == "license_id":
        return Dataset.licence == value
    if name == "name":
        return Dataset.slug == value
    if name == "id":
        return OpenPackage.id == value
    raise SearchQueryError(f"cannot filter on field {name!r}; one of organization, groups, tags, res_format, license_id, "
                           "name, id")


def candidates(terms: list[tuple[bool, str, str]]) -> Select[int]:
    statement = select(Dataset.id).join(OpenPackage, OpenPackage.dataset_id == Dataset.id).where(is_public())
    for negated, name, value in terms:
        if (name, value.lower()) in _ALWAYS:
            continue
        condition = _condition(name, value)
        if condition is not None:
            statement = statement.where(not_(condition) if negated else condition)
    return statement


def _ranked(session: Session, words: list[str], pool: Select[int]) -> Select[int, float]:
    """(dataset_id, score): BM25 with document frequencies and lengths of the public packages only."""
    public = select(Dataset.id).join(OpenPackage, OpenPackage.dataset_id == Dataset.id).where(is_public())
    n = int(session.scalar(select(func.count()).select_from(public.subquery())) or 1)
    avg = float(session.scalar(select(func.avg(Dataset.search_length)).where(Dataset.id.in_(public))) or 1.0) or 1.0
    df = dict(session.execute(select(SearchToken.token, func.count()).where(SearchToken.token.in_(words),
                                                                             SearchToken.dataset_id.in_(public))
                              .group_by(SearchToken.token)).all())
    idf = {w: math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5)) for w in words if w in df}
    if not idf:
        return select(Dataset.id.label("dataset_id"), literal(0.0, Float).label("score")).where(literal(False))
    weight: ColumnElement[float] = case(*((SearchToken.token == w, literal(v, Float)) for w, v in idf.items()), else_=0.0)
    norm = SearchToken.tf + K1 * (1 - B + B * Dataset.search_length / avg)
    score = func.sum(weight * SearchToken.tf * (K1 + 1) / norm).label("score")
    return (select(SearchToken.dataset_id.label("dataset_id"), score).join(Dataset, Dataset.id == SearchToken.dataset_id)
            .where(SearchToken.token.in_(list(idf)), SearchToken.dataset_id.in_(pool)).group_by(SearchToken.dataset_id))


def parse_sort(sort: str) -> list[tuple[str, bool]]:
    out = []
    for part in (sort or DEFAULT_SORT).split(","):
        bits = part.split()
        if not bits:
            continue
        name, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
        if name not in SORT_FIELDS or direction not in ("asc", "desc") or len(bits) > 2:
            raise SearchQueryError(f"cannot sort by {part.strip()!r}: use <field> asc|desc with field one of "
                                   f"{', '.join(SORT_FIELDS)}")
        out.append((name, direction == "desc"))
    return out or [("score", True), ("metadata_modified", True)]


def search(session: Session, query: Query) -> tuple[list[tuple[OpenPackage, Dataset]], int, dict[str, list[tuple[str, int]]]]:
    """A page of visible packages, the number matching, and the requested facet counts over the matches."""
    q_terms, text = parse_terms("" if query.q.strip() in ("*:*", "*") else query.q, what="q")
    fq_terms, leftover = parse_terms(query.fq, what="fq")
    if leftover:
        raise SearchQueryError(f"fq takes field:value terms only, not {leftover!r}")
    pool = candidates(q_terms + fq_terms)
    words = catalog_search.query_tokens(text) if text else []
    if words:
        ranked = _ranked(session, words, pool).subquery()
        phrase = case((Dataset.title.contains(text, autoescape=True), PHRASE_BONUS), else_=0.0)
        score: ColumnElement[float] = (ranked.c.score + phrase)
        statement = (select(OpenPackage, Dataset).join(Dataset, Dataset.id == OpenPackage.dataset_id)
                     .join(ranked, ranked.c.dataset_id == Dataset.id))
        matches: Select[int] = select(ranked.c.dataset_id)
    else:
        score = literal(0.0, Float)
        statement = select(OpenPackage, Dataset).join(Dataset, Dataset.id == OpenPackage.dataset_id).where(Dataset.id.in_(pool))
        matches = pool
    columns: dict[str, Any] = {"score": score, "metadata_modified": OpenPackage.modified_at,
                               "metadata_created": OpenPackage.published_at, "name": Dataset.slug,
                               "title_string": Dataset.title, "title": Dataset.title}
    order = [columns[name].desc() if desc else columns[name].asc() for name, desc in parse_sort(query.sort)]
    page = session.execute(statement.order_by(*order, Dataset.slug).limit(query.rows).offset(query.start)).all()
    count = int(session.scalar(select(func.count()).select_from(matches.subquery())) or 0)
    facets = {name: facet(session, name, matches, limit=query.facet_limit, mincount=query.facet_mincount)
              for name in query.facet_fields}
    return [(p, d) for p, d in page], count, facets


def facet(session: Session, name: str, matches: Select[int], *, limit: int, mincount: int) -> list[tuple[str, int]]:
    count = func.count(func.distinct(Dataset.id))
    statement: Select[str, int]
    if name == "organization":
        statement = select(Dataset.owner_department_code, count).group_by(Dataset.owner_department_code)
    elif name == "groups":
        statement = (select(OpenPackage.theme, count).join(OpenPackage, OpenPackage.dataset_id == Dataset.id)
                     .group_by(OpenPackage.theme))
    elif name == "tags":
        statement = select(DatasetTag.tag, count).join(DatasetTag, DatasetTag.dataset_id == Dataset.id).group_by(DatasetTag.tag)
    elif name == "res_format":
        statement = (select(OpenResource.format, count).join(OpenPackage, OpenPackage.dataset_id == Dataset.id)
                     .join(OpenResource, OpenResource.package_id == OpenPackage.id).group_by(OpenResource.format))
    elif name == "license_id":
        statement = select(Dataset.licence, count).group_by(Dataset.licence)
    else:
        raise SearchQueryError(f"cannot facet on {name!r}; one of {', '.join(FACET_FIELDS)}")
    statement = statement.where(Dataset.id.in_(matches)).having(count >= max(mincount, 1))
    statement = statement.order_by(count.desc(), statement.selected_columns[0])
    if limit >= 0:
        statement = statement.limit(limit)
    return [(str(v), int(c)) for v, c in session.execute(statement).all() if v not in (None, "")]
