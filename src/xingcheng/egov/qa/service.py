"""智能问答 / 智能导引: answer a citizen's question with the best catalogue items and their guide
facts, ask when near-twins cannot be told apart, suggest the next steps of the life event, log
every question anonymised, and let staff keep the FAQ. The index follows the catalogue: it is
rebuilt whenever the items, their materials, the 实施清单 or the FAQ change."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Forbidden, Invalid, NotFound
from xingcheng.core.identity.models import Department
from xingcheng.core.schemas import PageParams
from xingcheng.egov.qa import text
from xingcheng.egov.qa.anonymise import anonymise
from xingcheng.egov.qa.index import ItemDoc, PlaceDoc, QaIndex, SearchResult
from xingcheng.egov.qa.models import QaFaq, QaQuestion
from xingcheng.egov.qa.schemas import FaqCreate, FaqUpdate
from xingcheng.egov.services import service as catalogue
from xingcheng.egov.services.models import ServiceImplementation, ServiceItem, ServiceMaterial

FAQ_EDITORS = frozenset({Role.ADMIN, Role.DATA_STEWARD})  # any item's FAQ; department staff their own items'


@dataclass
class IndexBundle:
    """The index and the guide facts it answers with, for one version of catalogue + FAQ."""

    index: QaIndex
    facts: dict[str, dict[str, Any]]  # item code → guide facts
    places: dict[int, dict[str, Any]]  # implementation id → where to go
    faq: dict[str, list[dict[str, str]]]  # item code → FAQ pairs
    fingerprint: tuple[Any, ...]
    built_at: datetime = field(default_factory=utcnow)


_cache: dict[str, IndexBundle] = {}
_lock = threading.Lock()


def fingerprint(session: Session) -> tuple[Any, ...]:
    """Changes whenever an item, a material, an implementation entry or an FAQ pair changes."""
    row = session.execute(select(
        select(func.count()).select_from(ServiceItem).scalar_subquery(),
        select(func.max(ServiceItem.updated_at)).scalar_subquery(),
        select(func.count()).select_from(ServiceMaterial).scalar_subquery(),
        select(func.max(ServiceMaterial.id)).scalar_subquery(),
        select(func.count()).select_from(ServiceImplementation).scalar_subquery(),
        select(func.max(ServiceImplementation.id)).scalar_subquery(),
        select(func.count()).select_from(QaFaq).scalar_subquery(),
        select(func.max(QaFaq.updated_at)).scalar_subquery(),
        select(func.max(QaFaq.id)).scalar_subquery(),
    )).one()
    return tuple(row)


def _cache_key(session: Session) -> str:
    return str(session.get_bind().engine.url)


def invalidate(session: Session | None = None) -> None:
    """Drop the cached index (the next question rebuilds it); the fingerprint would notice anyway."""
    with _lock:
        if session is None:
            _cache.clear()
        else:
            _cache.pop(_cache_key(session), None)


def get_index(session: Session) -> IndexBundle:
    """The index for the catalogue as it is now: built at first use, rebuilt when anything changed."""
    key = _cache_key(session)
    current = fingerprint(session)
    bundle = _cache.get(key)
    if bundle is not None and bundle.fingerprint == current:
        return bundle
    with _lock:
        bundle = _cache.get(key)
        if bundle is None or bundle.fingerprint != current:
            bundle = build_bundle(session, current)
            _cache[key] = bundle
        return bundle


def build_bundle(session: Session, version: tuple[Any, ...] = ()) -> IndexBundle:
    """Read the catalogue through the service catalogue's own functions and index it."""
    names = catalogue.department_names(session)
    short = dict(session.execute(select(Department.code, Department.short_name)).all())
    items = list(session.scalars(
        select(ServiceItem).options(selectinload(ServiceItem.materials), selectinload(ServiceItem.process))
        .order_by(ServiceItem.code)
    ).all())
    faq: dict[str, list[dict[str, str]]] = {}
    for pair in session.scalars(select(QaFaq).order_by(QaFaq.item_code, QaFaq.id)):
        faq.setdefault(pair.item_code, []).append({"question": pair.question, "answer": pair.answer})
    aliases = text.item_aliases()
    docs = [
        ItemDoc(item.code, item.name, item.department_code, names.get(item.department_code, ""),
                short.get(item.department_code, ""), item.life_event, tuple(m.name for m in item.materials),
                aliases.get(item.code, ()), tuple(p["question"] for p in faq.get(item.code, ())))
        for item in items
    ]
    facts = {item.code: _facts(item, names.get(item.department_code, "")) for item in items}
    places: dict[int, dict[str, Any]] = {}
    offset = 0
    while True:
        rows, total = catalogue.list_implementations(session, page=PageParams(limit=1000, offset=offset))
        places.update({row["id"]: row for row in rows})
        offset += len(rows)
        if not rows or offset >= total:
            break
    place_docs = [
        PlaceDoc(row["id"], row["item_code"], row["division_code"], row["division_name"], row["level"],
                 row["office_name"])
        for row in places.values()
    ]
    return IndexBundle(QaIndex(docs, place_docs), facts, places, faq, version)


def _facts(item: ServiceItem, department_name: str) -> dict[str, Any]:
    summary = catalogue.summary(item, department_name)
    return {
        **summary,
        "visits_label": catalogue.visits_label(item.max_visits),
        "time_limit_label": "即办" if item.promised_days == 0 else f"承诺{item.promised_days}个工作日",
        "materials": [m.name for m in item.materials],
    }


def bundle_from_package() -> IndexBundle:
    """The shipped catalogue and FAQ seed without a database (a data directory with no city yet)."""
    from xingcheng.core.identity.demo import read_reference_csv
    from xingcheng.egov.qa.demo import read_faq_seed
    from xingcheng.egov.services.catalogue import read_catalogue
    from xingcheng.egov.services.demo import implementation_rows

    departments = {r["code"]: r for r in read_reference_csv("departments.csv")}
    aliases = text.item_aliases()
    faq: dict[str, list[dict[str, str]]] = {}
    for pair in read_faq_seed():
        faq.setdefault(pair["item_code"], []).append({"question": pair["question"], "answer": pair["answer"]})
    docs, facts = [], {}
    catalogue_rows = read_catalogue()
    for row in catalogue_rows:
        department = departments.get(row.department_code, {})
        docs.append(ItemDoc(row.code, row.name, row.department_code, department.get("name", ""),
                            department.get("short_name", ""), row.life_event, row.materials,
                            aliases.get(row.code, ()), tuple(p["question"] for p in faq.get(row.code, ()))))
        facts[row.code] = {
            "code": row.code, "name": row.name, "department_code": row.department_code,
            "department_name": department.get("name", ""), "life_event": row.life_event, "online": row.online,
            "max_visits": row.max_visits, "statutory_days": row.statutory_days, "promised_days": row.promised_days,
            "visits_label": catalogue.visits_label(row.max_visits),
            "time_limit_label": "即办" if row.promised_days == 0 else f"承诺{row.promised_days}个工作日",
            "materials": list(row.materials),
        }
    divisions = read_reference_csv("divisions.csv")
    division_names = {d["code"]: d["name"] for d in divisions}
    city_code = next((d["code"] for d in divisions if d["level"] == "city"), "430100")
    districts = sorted((d["code"], d["name"]) for d in divisions if d["level"] == "county")
    short_names = {code: row.get("short_name", "") for code, row in departments.items()}
    places = {
        number: {**row, "id": number, "division_name": division_names.get(row["division_code"], "")}
        for number, row in enumerate(implementation_rows(catalogue_rows, short_names, districts, city_code), start=1)
    }
    place_docs = [PlaceDoc(p["id"], p["item_code"], p["division_code"], p["division_name"], p["level"], p["office_name"])
                  for p in places.values()]
    return IndexBundle(QaIndex(docs, place_docs), facts, places, faq, ("package",))


def _explanation(result: SearchResult, matched: Sequence[str]) -> str:
    said = {e.canonical: e.matched for e in result.expansions}
    parts = []
    for term in matched[:4]:
        source = said.get(term)
        parts.append(f"“{source}”→“{term}”" if source and source != term else f"“{term}”")
    return "匹配：" + "、".join(parts) if parts else "按字词相近程度匹配"


def answer(bundle: IndexBundle, question: str, *, limit: int = 3) -> dict[str, Any]:
    """Rank the catalogue for a question; no logging (``ask`` logs)."""
    result = bundle.index.search(question, limit=limit)
    answers = []
    for hit in result.hits:
        facts = bundle.facts[hit.code]
        place = bundle.places.get(hit.place_id) if hit.place_id is not None else None
        answers.append({
            "item_code": hit.code, "name": facts["name"], "score": hit.score,
            "department_code": facts["department_code"], "department_name": facts["department_name"],
            "online": facts["online"], "visits_label": facts["visits_label"],
            "time_limit_label": facts["time_limit_label"], "statutory_days": facts["statutory_days"],
            "promised_days": facts["promised_days"], "materials": facts["materials"],
            "where": None if place is None else {
                "implementation_id": place["id"], **{k: place[k] for k in (
                    "division_code", "division_name", "office_name", "service_window", "address", "phone", "hours")},
            },
            "matched_terms": hit.matched, "explanation": _explanation(result, hit.matched),
            "faq": bundle.faq.get(hit.code, [])[:3], "guide_url": f"/api/v1/services/items/{hit.code}",
        })
    clarification = None
    if result.clarification is not None:
        clarification = {
            "question": result.clarification.question, "family": result.clarification.family,
            "options": [{"item_code": code, "name": bundle.facts[code]["name"], "label": label}
                        for code, label in result.clarification.options],
        }
    follow_ups: list[dict[str, str]] = []
    life_event = None
    if result.answered and result.hits:
        top = result.hits[0].code
        life_event = bundle.facts[top]["life_event"]
        follow_ups = [
            {"item_code": code, "name": bundle.facts[code]["name"], "life_event": life_event}
            for code in bundle.index.follow_ups(top, exclude=[h.code for h in result.hits])
        ]
    return {
        "answered": result.answered, "answers": answers, "clarification": clarification,
        "follow_ups": follow_ups, "life_event": life_event, "district": result.district,
        "understood": [{"said": e.matched, "understood_as": e.canonical, "by_pinyin": e.by_pinyin}
                       for e in result.expansions if e.matched != e.canonical],
    }


def ask(session: Session, *, question: str, channel: str = "api", limit: int = 3) -> dict[str, Any]:
    """Answer and log the question (anonymised) with a token the asker uses to give feedback."""
    bundle = get_index(session)
    response = answer(bundle, question, limit=limit)
    token = secrets.token_urlsafe(24)
    logged = QaQuestion(
        question=anonymise(question)[:500], channel=channel,
        top_codes=",".join(a["item_code"] for a in response["answers"][:3]),
        top_score=response["answers"][0]["score"] if response["answers"] else 0.0,
        answered=response["answered"], clarified=response["clarification"] is not None,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
    )
    session.add(logged)
    session.flush()
    return {**response, "question_id": logged.id, "feedback_token": token, "question": logged.question}


def feedback(session: Session, *, question_id: int, token: str, clicked_item_code: str | None,
             helpful: bool | None) -> QaQuestion:
    """The asker clicked an answer and/or said whether it helped (only with the token of that answer)."""
    logged = session.get(QaQuestion, question_id)
    if logged is None or not secrets.compare_digest(logged.token_hash, hashlib.sha256(token.encode()).hexdigest()):
        raise NotFound(f"no question {question_id} with this feedback token")
    if clicked_item_code is None and helpful is None:
        raise Invalid("send clicked_item_code, helpful or both")
    if clicked_item_code is not None:
        if session.scalar(select(ServiceItem.id).where(ServiceItem.code == clicked_item_code)) is None:
            raise Invalid(f"no service item with code {clicked_item_code}")
        logged.clicked_code = clicked_item_code
    if helpful is not None:
        logged.helpful = helpful
    logged.feedback_at = utcnow()
    session.flush()
    return logged


def question_read(logged: QaQuestion) -> dict[str, Any]:
    return {
        "id": logged.id, "asked_at": logged.asked_at, "question": logged.question, "channel": logged.channel,
        "top_codes": [c for c in logged.top_codes.split(",") if c], "top_score": logged.top_score,
        "answered": logged.answered, "clarified": logged.clarified, "clicked_code": logged.clicked_code,
        "helpful": logged.helpful,
    }


def _unanswered() -> Any:
    # Not answered with confidence, or the asker said the answer did not help.
    return (QaQuestion.answered.is_(False)) | (QaQuestion.helpful.is_(False))


def list_questions(session: Session, *, page: PageParams, unanswered: bool = False) -> tuple[list[dict[str, Any]], int]:
    statement = select(QaQuestion)
    if unanswered:
        statement = statement.where(_unanswered())
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(statement.order_by(QaQuestion.asked_at.desc(), QaQuestion.id.desc())
                           .limit(page.limit).offset(page.offset))
    return [question_read(q) for q in rows], int(total)


def _check_editor(session: Session, editor: Principal, item_code: str) -> ServiceItem:
    item = catalogue.get_item(session, code=item_code)
    if item is None:
        raise NotFound(f"no service item with code {item_code} in the catalogue")
    if not editor.roles & FAQ_EDITORS and editor.department_code != item.department_code:
        raise Forbidden(f"item {item_code} belongs to department '{item.department_code}'; only its staff may edit its FAQ")
    return item


def faq_read(pair: QaFaq, names: dict[str, str]) -> dict[str, Any]:
    return {"id": pair.id, "item_code": pair.item_code, "item_name": names.get(pair.item_code, ""),
            "question": pair.question, "answer": pair.answer, "updated_by": pair.updated_by,
            "updated_at": pair.updated_at}


def item_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = set(codes)
    if not wanted:
        return {}
    return dict(session.execute(select(ServiceItem.code, ServiceItem.name).where(ServiceItem.code.in_(wanted))).all())


def list_faq(session: Session, *, page: PageParams, item_code: str | None = None, q: str | None = None
             ) -> tuple[list[dict[str, Any]], int]:
    statement = select(QaFaq)
    if item_code:
        statement = statement.where(QaFaq.item_code == item_code)
    if q:
        statement = statement.where(QaFaq.question.contains(q) | QaFaq.answer.contains(q))
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    pairs = list(session.scalars(statement.order_by(QaFaq.item_code, QaFaq.id).limit(page.limit).offset(page.offset)))
    names = item_names(session, (p.item_code for p in pairs))
    return [faq_read(p, names) for p in pairs], int(total)


def get_faq_or_raise(session: Session, *, faq_id: int) -> QaFaq:
    pair = session.get(QaFaq, faq_id)
    if pair is None:
        raise NotFound(f"no FAQ pair {faq_id}")
    return pair


def create_faq(session: Session, *, data: FaqCreate, editor: Principal) -> QaFaq:
    _check_editor(session, editor, data.item_code)
    pair = QaFaq(item_code=data.item_code, question=data.question, answer=data.answer, updated_by=editor.name)
    session.add(pair)
    session.flush()
    audit.record(session, actor=editor, action="qa.faq.create", subject=f"qa_faq:{pair.id}",
                 purpose="maintain the Q&A FAQ (常见问题)", details={"item_code": pair.item_code})
    invalidate(session)
    return pair


def update_faq(session: Session, *, faq_id: int, data: FaqUpdate, editor: Principal) -> QaFaq:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if not changes:
        raise Invalid("nothing to update: send question, answer or both")
    pair = get_faq_or_raise(session, faq_id=faq_id)
    _check_editor(session, editor, pair.item_code)
    for key, value in changes.items():
        setattr(pair, key, value)
    pair.updated_by = editor.name
    pair.updated_at = utcnow()
    session.flush()
    audit.record(session, actor=editor, action="qa.faq.update", subject=f"qa_faq:{pair.id}",
                 purpose="maintain the Q&A FAQ (常见问题)", details={"item_code": pair.item_code,
                                                                    "fields": sorted(changes)})
    invalidate(session)
    return pair


def delete_faq(session: Session, *, faq_id: int, editor: Principal) -> None:
    pair = get_faq_or_raise(session, faq_id=faq_id)
    _check_editor(session, editor, pair.item_code)
    session.delete(pair)
    session.flush()
    audit.record(session, actor=editor, action="qa.faq.delete", subject=f"qa_faq:{faq_id}",
                 purpose="maintain the Q&A FAQ (常见问题)", details={"item_code": pair.item_code})
    invalidate(session)


def stats(session: Session) -> dict[str, Any]:
    total = int(session.scalar(select(func.count()).select_from(QaQuestion)) or 0)
    answered = int(session.scalar(select(func.count()).where(QaQuestion.answered.is_(True))) or 0)
    with_feedback = int(session.scalar(select(func.count()).where(QaQuestion.helpful.is_not(None))) or 0)
    helpful = int(session.scalar(select(func.count()).where(QaQuestion.helpful.is_(True))) or 0)
    open_questions = int(session.scalar(select(func.count()).where(_unanswered())) or 0)
    bundle = _cache.get(_cache_key(session))
    return {
        "questions": total, "answered": answered, "answered_rate": round(answered / total, 4) if total else 0.0,
        "with_feedback": with_feedback, "helpful": helpful,
        "helpful_rate": round(helpful / with_feedback, 4) if with_feedback else 0.0,
        "unanswered_open": open_questions, "faq_pairs": int(session.scalar(select(func.count()).select_from(QaFaq)) or 0),
        "index_items": len(bundle.index.docs) if bundle else 0, "index_places": len(bundle.index.places) if bundle else 0,
        "index_built_at": bundle.built_at if bundle else None,
    }


def answered_rate_percent(session: Session) -> float:
    total = int(session.scalar(select(func.count()).select_from(QaQuestion)) or 0)
    answered = int(session.scalar(select(func.count()).where(QaQuestion.answered.is_(True))) or 0)
    return round(100 * answered / total, 1) if total else 0.0


@dataclass(frozen=True)
class EvalReport:
    n: int
    top1: float
    top3: float
    mrr: float
    misses: list[dict[str, Any]]


def evaluate(bundle: IndexBundle, rows: Sequence[dict[str, str]], *, depth: int = 10) -> EvalReport:
    """Top-1, top-3 and MRR (over the first ``depth`` answers) of labelled questions; an answer
    counts by item code, whichever district's implementation it points to."""
    top1 = top3 = 0
    reciprocal = 0.0
    misses = []
    for row in rows:
        hits = bundle.index.search(row["question"], limit=depth).hits
        codes = [h.code for h in hits]
        rank = codes.index(row["item_code"]) + 1 if row["item_code"] in codes else None
        top1 += rank == 1
        top3 += rank is not None and rank <= 3
        reciprocal += 1 / rank if rank else 0.0
        if rank != 1:
            misses.append({"question": row["question"], "expected": row["item_code"], "rank": rank,
                           "got": codes[:3]})
    n = len(rows)
    return EvalReport(n, round(top1 / n, 4) if n else 0.0, round(top3 / n, 4) if n else 0.0,
                      round(reciprocal / n, 4) if n else 0.0, misses)
