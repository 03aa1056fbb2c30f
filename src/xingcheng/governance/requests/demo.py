"""Demo step: six weeks of citizen requests across the districts, handled ever faster (the seed's 7 → 3 days).

Texts are the shipped training requests' (real 12345 wording), places are standard addresses of the
spatial registry (a few busy roads get more, so the map shows hotspots), and each request carries
the timeline it would have had: submitted, accepted, replied, confirmed with a rating.
"""

from __future__ import annotations

import random
import secrets
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from xingcheng.core.db import utcnow
from xingcheng.core.identity.models import Account
from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.registries import spatial
from xingcheng.governance.requests import sla
from xingcheng.governance.requests.categories import by_code
from xingcheng.governance.requests.classifier import shipped_examples
from xingcheng.governance.requests.models import CitizenRequest, RequestEvent

DAYS = 42
COUNTS = {"small": 240, "city": 6000}
# Population-weighted district shares (七普), the urban core files most.
DISTRICT_WEIGHTS = {"430102": 9, "430103": 11, "430104": 15, "430105": 12, "430111": 14, "430112": 8,
                    "430121": 13, "430181": 8, "430182": 7}
FAMILY_NAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗"
REPLIES = (
    "经现场核查，问题属实，已责令整改到位，后续将加强巡查。", "已安排工作人员上门处理，现已恢复正常。",
    "已联系相关责任单位，问题已解决，感谢您的监督。", "经核实已依法立案查处，处理结果将另行告知。",
    "已向您当面解释相关政策，并协助办理完成。",
)


def _handling_days(rng: random.Random, age_days: float) -> float:
    """Older requests took ~7 days, recent ones ~3: the improvement the city reports."""
    progress = 1 - age_days / DAYS  # 0 six weeks ago → 1 today
    mean = 7.0 - 4.2 * progress
    return max(0.2, rng.gauss(mean, mean * 0.35))


def load_requests(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("citizen_requests")
    now = utcnow().replace(microsecond=0)
    categories = by_code()
    by_category: dict[str, list[str]] = defaultdict(list)
    for example in shipped_examples():
        by_category[example.category].append(example.text)
    codes = sorted(by_category)
    weights = [len(by_category[c]) for c in codes]
    roads = spatial.roads()
    districts = list(DISTRICT_WEIGHTS)
    hot_roads = {code: rng.sample(list(roads[code]), k=min(2, len(roads[code]))) for code in districts}
    citizen_id = session.scalar(select(Account.id).where(Account.username == "citizen"))
    rows: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    total = COUNTS[ctx.scale]
    for i in range(total):
        code = rng.choices(codes, weights)[0]
        category = categories[code]
        division = rng.choices(districts, [DISTRICT_WEIGHTS[d] for d in districts])[0]
        road = rng.choice(hot_roads[division]) if rng.random() < 0.3 else rng.choice(roads[division])
        number = rng.randint(1, 400)
        lon, lat = spatial.address_point(road, number)
        age = rng.uniform(0, DAYS) ** 1.05 / DAYS ** 0.05  # slightly more recent requests
        created = now - timedelta(days=age, hours=rng.uniform(0, 10))
        confident = rng.random() < 0.88
        handling = _handling_days(rng, age)
        replied = created + timedelta(days=handling)
        due = sla.add_working_days(created, category.sla_days)
        status, accepted_at, replied_at, closed_at, satisfaction = "assigned", None, None, None, None
        if not confident and age < 1:
            status = "dispatch"
        elif replied < now:
            status, accepted_at, replied_at = "replied", created + timedelta(hours=rng.uniform(0.5, 8)), replied
            closed = replied + timedelta(days=rng.uniform(0.2, 4))
            if closed < now:
                status, closed_at = "closed", closed
                satisfaction = rng.choices([5, 4, 3, 2, 1], [70, 23, 4, 2, 1])[0]
        elif age > 0.3:
            status, accepted_at = "accepted", created + timedelta(hours=rng.uniform(0.5, 8))
        transfers = 1 if rng.random() < 0.06 else 0
        token = secrets.token_hex(16)
        rows.append({
            "ticket": token[:20], "token": token, "channel": rng.choices(["web", "api", "open311", "phone"], [45, 10, 10, 35])[0],
            "client_name": None, "description": rng.choice(by_category[code]), "category_code": code,
            "department_code": None if status == "dispatch" else category.department_code,
            "route_confidence": round(rng.uniform(0.55, 0.99) if confident else rng.uniform(0.2, 0.44), 4),
            "route_method": ("transfer" if transfers else "auto") if confident else "dispatcher", "status": status,
            "address": spatial.full_address(road, number), "lon": lon, "lat": lat, "division_code": division,
            "street": road.street, "citizen_account_id": citizen_id if i % 40 == 0 else None,
            "contact_name": rng.choice(FAMILY_NAMES) + rng.choice(("先生", "女士")),
            "contact_phone": f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
            "contact_email": None, "media_url": None, "sla_days": category.sla_days,
            "due_at": None if status == "dispatch" else due, "warned_at": None,
            "escalation_level": sla.escalation_level(due, now) if status in ("assigned", "accepted") else 0,
            "assigned_at": None if status == "dispatch" else created, "accepted_at": accepted_at,
            "replied_at": replied_at, "closed_at": closed_at,
            "reply": rng.choice(REPLIES) if replied_at else None, "transfer_count": transfers,
            "reopen_count": 1 if status == "closed" and rng.random() < 0.03 else 0,
            "duplicate_count": rng.choice([0, 0, 0, 1, 2]) if road in hot_roads[division] else 0,
            "merged_into_id": None, "satisfaction": satisfaction, "feedback": None,
            "created_at": created, "updated_at": closed_at or replied_at or accepted_at or created,
        })
        plans.append({"created": created, "status": status, "department": rows[-1]["department_code"],
                      "accepted": accepted_at, "replied": replied_at, "closed": closed_at, "satisfaction": satisfaction})
    # Core statements: one executemany each (the ORM's bulk paths split mixed-NULL rows into many batches).
    requests_table = cast(Table, CitizenRequest.__table__)
    session.execute(insert(requests_table), rows)
    id_by_token = dict(session.execute(
        select(requests_table.c.token, requests_table.c.id).where(requests_table.c.token.in_([r["token"] for r in rows]))
    ).all())
    ids = [id_by_token[row["token"]] for row in rows]
    session.execute(
        update(requests_table).where(requests_table.c.id == bindparam("b_id")).values(ticket=bindparam("b_ticket")),
        [{"b_id": rid, "b_ticket": f"CS{row['created_at'].astimezone(sla.BEIJING):%y%m%d}{rid:07d}"}
         for rid, row in zip(ids, rows, strict=True)],
    )
    events: list[dict[str, Any]] = []
    for rid, plan in zip(ids, plans, strict=True):
        first = "dispatch" if plan["status"] == "dispatch" else "assigned"
        events.append(_event(rid, plan["created"], "citizen", "submit", None, first, plan["department"], "自动分派"))
        if plan["accepted"]:
            events.append(_event(rid, plan["accepted"], plan["department"], "accept", "assigned", "accepted",
                                 plan["department"], "部门已签收"))
        if plan["replied"]:
            events.append(_event(rid, plan["replied"], plan["department"], "reply", "accepted", "replied",
                                 plan["department"], "已办理回复"))
        if plan["closed"]:
            events.append(_event(rid, plan["closed"], "citizen", "confirm", "replied", "closed", plan["department"],
                                 f"满意度 {plan['satisfaction']}/5"))
    session.execute(insert(cast(Table, RequestEvent.__table__)), events)
    ctx.progress("citizen requests", total, total)


def _event(request_id: int, at: datetime, actor: str, action: str, before: str | None, after: str,
           department: str | None, note: str) -> dict[str, Any]:
    return {"request_id": request_id, "at": at, "actor": actor or "system", "action": action, "from_status": before,
            "to_status": after, "department_code": department, "note": note}


DEMO_STEPS = [
    DemoStep("citizen_requests", load_requests, depends_on=("departments", "citizen_accounts"),
             description="six weeks of 12345 citizen requests across the districts"),
]
