"""Demo step ``exchange``: departments ask for each other's L3/L4 data; owners approve, reject or have yet to decide;
approved requests are pulled in Arrow pages and one is pushed over the event bus, so the statistics have flows.

It also adds the owner-side login of the 公安局 (``gaj_staff``), whose inbox holds pending requests for
the population register.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import utcnow
from xingcheng.core.identity.schemas import AccountCreate
from xingcheng.core.identity.service import create_account, get_account_by_username
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.catalog.models import Dataset
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.models import ShareRequest
from xingcheng.datahub.exchange.schemas import RequestApprove, RequestCreate

OWNER_LOGIN = ("gaj_staff", "公安局数据共享专员", "Gaj@2026", "gaj")
# (consumer department, purpose, legal basis) — who in a city asks for what, and why.
ASKS: list[tuple[str, str, str]] = [
    ("xzsp", "business-licence-identity-check", "《优化营商环境条例》第三十五条：申请材料可通过共享获取的不再要求提供"),
    ("gjj", "housing-fund-loan-review", "《住房公积金管理条例》第十三条"),
    ("mz", "social-assistance-verification", "《社会救助暂行办法》第十一条：核对申请人家庭经济状况"),
    ("rsj", "social-insurance-registration", "《社会保险法》第五十七条"),
    ("zjj", "housing-security-eligibility", "《湖南省保障性住房管理办法》第二十条"),
    ("ybj", "medical-insurance-enrolment", "《医疗保障基金使用监督管理条例》第十四条"),
    ("swj_tax", "tax-registration-check", "《税收征收管理法》第十五条"),
    ("bdc", "real-estate-registration", "《不动产登记暂行条例》第二十八条"),
]
PAGE_ROWS = 5_000


def _staff(name: str, department: str) -> Principal:
    return Principal(kind="staff", name=name, roles=frozenset({Role.DEPARTMENT_STAFF}), department_code=department)


def load_exchange(session: Session, ctx: DemoContext) -> None:
    rng: random.Random = ctx.rng("exchange")
    username, display, password, department = OWNER_LOGIN
    if get_account_by_username(session, username=username) is None:
        create_account(session, data=AccountCreate(username=username, display_name=display, password=password,
                                                   kind="staff", roles=[Role.DEPARTMENT_STAFF],
                                                   department_code=department))
    datasets = list(session.scalars(select(Dataset).where(Dataset.grade.in_(("L3", "L4")), Dataset.row_count > 0)
                                    .order_by(Dataset.id)))
    registers = [d for d in datasets if d.slug in ("gaj/population-register", "scj/legal-entity-register")]
    others = rng.sample([d for d in datasets if d not in registers], k=min(4, len(datasets) - len(registers)))
    now = utcnow()
    made = 0
    for index, dataset in enumerate(registers + others):
        asks = [a for a in ASKS if a[0] != dataset.owner_department_code]
        for consumer, purpose, basis in rng.sample(asks, k=3 if dataset in registers else 1):
            requester = _staff(f"{consumer}-demo", consumer)
            fields = [f for f in _fields(session, dataset) if rng.random() < 0.7] or None
            request = service.create_request(session, requester=requester, now=now, data=RequestCreate(
                dataset=dataset.slug, fields=fields, purpose=purpose, legal_basis=basis,
                requested_until=now + timedelta(days=rng.choice((90, 180, 365)))))
            made += 1
            owner = _staff(f"{dataset.owner_department_code}-demo", dataset.owner_department_code)
            fate = "pending" if (index == 0 and made <= 2) else rng.choices(("approve", "reject"), (5, 1))[0]
            if fate == "reject":
                service.reject(session, request_id=request.id, approver=owner, now=now,
                               reason="申请用途与所需字段不匹配，请缩小字段范围后重新申请")
            elif fate == "approve":
                service.approve(session, request_id=request.id, approver=owner, now=now,
                                data=RequestApprove(reason="依据充分，同意按最小必要原则共享"))
                _pull_all(session, request.id, requester)
    first = session.scalar(select(ShareRequest).where(ShareRequest.status == "approved")
                           .order_by(ShareRequest.id).limit(1))
    if first is not None:
        subscription = flows.subscribe(session, request_id=first.id, consumer=_staff("demo", first.requester_department_code),
                                       channel="event")
        flows.run_subscription(session, subscription=subscription)
    ctx.progress("exchange requests", made, made)


def _fields(session: Session, dataset: Dataset) -> list[str]:
    from xingcheng.datahub.catalog.service import current_fields

    return [f["name"] for f in current_fields(session, dataset)]


def _pull_all(session: Session, request_id: int, consumer: Principal) -> None:
    cursor = ""
    while True:
        pulled = flows.pull(session, request_id=request_id, consumer=consumer, cursor=cursor, limit=PAGE_ROWS,
                            fmt="arrow")
        cursor = pulled.next_cursor
        if not pulled.more:
            return


DEMO_STEPS = [
    DemoStep("exchange", load_exchange, depends_on=("catalog",),
             description="sharing exchange: requests between departments, grants, masked pulls and a push subscription"),
]
