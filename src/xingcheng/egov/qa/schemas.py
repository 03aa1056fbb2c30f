"""Q&A API models: the question, ranked answers with guide facts and explanations, FAQ, feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from xingcheng.core.schemas import Page, Schema
from xingcheng.egov.services.schemas import ITEM_CODE_PATTERN

Channel = Literal["portal", "widget", "console", "api", "cli"]


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    # Text the databases cannot store (NUL, lone surrogates) is refused here, not as a 500 later.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


class AskRequest(Schema):
    question: str = Field(min_length=1, max_length=200, description="the citizen's question in everyday Chinese")
    channel: Channel = "api"
    limit: int = Field(default=3, ge=1, le=10, description="answers to return")

    _strip = field_validator("question")(_not_blank)


class Place(Schema):
    """Where to go: one 实施清单 entry (the district the question names, else the city centre)."""

    implementation_id: int
    division_code: str
    division_name: str
    office_name: str
    service_window: str
    address: str
    phone: str
    hours: str


class FaqPair(Schema):
    question: str
    answer: str


class Answer(Schema):
    item_code: str
    name: str
    score: float
    department_code: str
    department_name: str
    online: bool
    visits_label: str
    time_limit_label: str
    statutory_days: int
    promised_days: int
    materials: list[str]
    where: Place | None
    matched_terms: list[str]
    explanation: str
    faq: list[FaqPair]
    guide_url: str


class ClarifyOption(Schema):
    item_code: str
    name: str
    label: str


class Clarification(Schema):
    question: str
    family: str
    options: list[ClarifyOption]


class FollowUp(Schema):
    item_code: str
    name: str
    life_event: str


class SynonymUse(Schema):
    said: str
    understood_as: str
    by_pinyin: bool


class AskResponse(Schema):
    question_id: int | None
    feedback_token: str | None
    question: str  # as logged: personal data stripped
    answered: bool
    answers: list[Answer]
    clarification: Clarification | None
    follow_ups: list[FollowUp]
    life_event: str | None
    understood: list[SynonymUse]
    district: str | None


class FeedbackRequest(Schema):
    token: str = Field(min_length=16, max_length=64)
    clicked_item_code: str | None = Field(default=None, pattern=ITEM_CODE_PATTERN, max_length=32)
    helpful: bool | None = None


class QuestionRead(Schema):
    id: int
    asked_at: datetime
    question: str
    channel: str
    top_codes: list[str]
    top_score: float
    answered: bool
    clarified: bool
    clicked_code: str | None
    helpful: bool | None


class QuestionPage(Page[QuestionRead]):
    pass


class FaqCreate(Schema):
    item_code: str = Field(pattern=ITEM_CODE_PATTERN, max_length=32)
    question: str = Field(min_length=2, max_length=200)
    answer: str = Field(min_length=1, max_length=4000)

    _strip = field_validator("question", "answer")(_not_blank)


class FaqUpdate(Schema):
    question: str | None = Field(default=None, min_length=2, max_length=200)
    answer: str | None = Field(default=None, min_length=1, max_length=4000)

    _strip = field_validator("question", "answer")(lambda v: None if v is None else _not_blank(v))


class FaqRead(Schema):
    id: int
    item_code: str
    item_name: str
    question: str
    answer: str
    updated_by: str
    updated_at: datetime


class FaqPage(Page[FaqRead]):
    pass


class QaStats(Schema):
    questions: int
    answered: int
    answered_rate: float
    with_feedback: int
    helpful: int
    helpful_rate: float
    unanswered_open: int
    faq_pairs: int
    index_items: int
    index_places: int
    index_built_at: datetime | None
