"""Demo steps: enterprise profiles (tax, HR, customs, statistics facts), ≥ 500 惠企政策 at four levels,
and a month of push campaigns with enterprises' feedback."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from xingcheng.core.registry import DemoContext, DemoStep
from xingcheng.datahub.registries.models import LegalEntity
from xingcheng.egov.policy import matching, rules, service
from xingcheng.egov.policy.models import EnterpriseProfile, Policy, PolicyPush

RECORDED_AT = datetime(2026, 11, 1, tzinfo=UTC)
_WAN = 10_000
_INDUSTRIAL = ("C", "D")


def profile_row(rng: random.Random, entity: LegalEntity) -> dict[str, Any]:
    """Facts other departments hold about one enterprise, drawn consistently with its registry record."""
    employees = entity.employees
    per_head = {"micro": 18.0, "small": 35.0, "medium": 60.0, "large": 90.0}[entity.revenue_band]  # 万元 per employee
    if entity.industry_code.startswith(_INDUSTRIAL):
        per_head *= 1.6
    revenue = max(1.0, employees * per_head * rng.lognormvariate(0, 0.45)) * _WAN
    missing = entity.entity_type in ("social_organisation", "public_institution") or rng.random() < 0.04
    if missing:  # no tax/HR facts shared for this entity yet: matching sees them as unknown
        return {"credit_code": entity.credit_code, "revenue_yuan": None, "export_yuan": None, "graduates_hired": None,
                "insured_employees": None, "layoff_rate_percent": None, "specialised_sme": None, "tech_sme": None,
                "invention_patents": None, "updated_at": RECORDED_AT}
    hires_graduates = entity.entity_type == "company" and rng.random() < min(0.8, 0.08 + employees / 200)
    high_tech = entity.high_tech
    return {
        "credit_code": entity.credit_code,
        "revenue_yuan": int(revenue),
        "export_yuan": int(revenue * rng.uniform(0.05, 0.6)) if entity.exporter else 0,
        "graduates_hired": rng.randint(1, max(1, employees // 15)) if hires_graduates else 0,
        "insured_employees": max(0, round(employees * rng.uniform(0.7, 1.0))) if entity.entity_type != "individual_business"
        else min(employees, rng.randint(0, 2)),
        "layoff_rate_percent": round(rng.choice((0.0, 0.0, 0.0, rng.uniform(0.5, 4), rng.uniform(4, 12))), 2),
        "specialised_sme": entity.entity_type == "company" and entity.revenue_band in ("small", "medium")
        and rng.random() < (0.25 if high_tech else 0.02),
        "tech_sme": entity.entity_type == "company" and entity.revenue_band != "large"
        and rng.random() < (0.7 if high_tech else 0.12 if entity.industry_code[:3] in ("I65", "M75", "M74", "I64") else 0.02),
        "invention_patents": rng.randint(1, 40) if high_tech else (rng.randint(0, 3) if rng.random() < 0.1 else 0),
        "updated_at": RECORDED_AT,
    }


def load_profiles(session: Session, ctx: DemoContext) -> None:
    rng = ctx.rng("policy_profiles")
    entities = session.scalars(select(LegalEntity).order_by(LegalEntity.id)).all()
    rows = [profile_row(rng, e) for e in entities]
    for start in range(0, len(rows), 5000):
        session.execute(insert(cast(Table, EnterpriseProfile.__table__)), rows[start:start + 5000])
    ctx.progress("enterprise profiles", len(rows), len(rows))


# ---- policies ---------------------------------------------------------------------------------

Conditions = list[dict[str, Any]]


def c(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


@dataclass(frozen=True)
class Template:
    key: str  # issuing line: kj 科技, gx 工信, rs 人社, sw 商务, tax 税务, sj 市场监管, ny 农业, wl 文旅, xzsp 审批
    title: str
    note: str
    amount_wan: float
    no_application: bool
    conditions: Callable[[random.Random], Conditions]


ACTIVE = c("status", "==", "active")
COMPANY = c("entity_type", "==", "company")
GOOD_TAX = c("tax_credit_rating", "in", ["A", "B", "M"])


def _scaled(rng: random.Random, base: float) -> float:
    return round(base * rng.choice((0.5, 1, 1, 1.5, 2)), 1)


TEMPLATES: tuple[Template, ...] = (
    Template("kj", "高新技术企业认定奖励", "首次认定的高新技术企业一次性奖励", 20, True,
             lambda r: [ACTIVE, c("high_tech", "==", True), GOOD_TAX]),
    Template("tax", "研发费用税前加计扣除", "研发费用按实际发生额的100%在税前加计扣除", 0, False,
             lambda r: [COMPANY, c("rd_spend_wan", ">", 0), c("industry_code", "not_prefix", ["K", "F52", "H62", "L71"])]),
    Template("kj", "企业研发财政奖补", "按上年度研发投入增量的10%给予补助，最高100万元", 100, False,
             lambda r: [COMPANY, c("rd_spend_wan", ">=", _scaled(r, 100)), c("rd_ratio_percent", ">=", r.choice((3, 4, 5))),
                        c("age_years", ">=", 1), GOOD_TAX]),
    Template("rs", "失业保险稳岗返还", "按上年度实际缴纳失业保险费的60%返还（中小微企业）", 5, True,
             lambda r: [ACTIVE, c("insured_employees", ">=", 1), c("layoff_rate_percent", "<=", 5.5),
                        c("tax_credit_rating", "not_in", ["D"])]),
    Template("rs", "高校毕业生一次性扩岗补助", "每招用1名高校毕业生补助1500元", 1.5, True,
             lambda r: [ACTIVE, c("graduates_hired", ">=", 1), c("insured_employees", ">=", 1)]),
    Template("rs", "吸纳高校毕业生就业社保补贴", "按实际缴纳的社会保险费给予补贴，最长3年", 3, False,
             lambda r: [COMPANY, c("graduates_hired", ">=", r.choice((1, 2, 3))),
                        {"any": [c("revenue_band", "in", ["micro", "small"]), c("specialised_sme", "==", True)]}]),
    Template("gx", "专精特新中小企业奖励", "新认定的专精特新中小企业一次性奖励", 30, True,
             lambda r: [ACTIVE, c("specialised_sme", "==", True), c("revenue_band", "in", ["small", "medium"])]),
    Template("kj", "科技型中小企业研发费用补助", "按研发费用的5%给予补助，最高20万元", 20, False,
             lambda r: [c("tech_sme", "==", True), c("employees", "<=", 500), c("revenue_wan", "<=", 20000),
                        c("rd_spend_wan", ">", 0)]),
    Template("sw", "外贸企业出口奖励", "按出口额增量给予奖励，最高20万元", 20, False,
             lambda r: [ACTIVE, c("exporter", "==", True), c("export_wan", ">=", _scaled(r, 500)), GOOD_TAX]),
    Template("sw", "中小外贸企业出口信用保险保费补贴", "短期出口信用保险保费补贴50%", 5, False,
             lambda r: [c("exporter", "==", True), c("revenue_band", "in", ["micro", "small", "medium"])]),
    Template("gx", "软件和信息技术服务业发展扶持", "按上年度营业收入增量给予奖励，最高50万元", 50, False,
             lambda r: [c("industry_code", "prefix", ["I65", "I64"]), c("revenue_wan", ">=", _scaled(r, 1000)),
                        c("age_years", ">=", 2)]),
    Template("gx", "智能制造示范企业奖励", "认定为智能制造示范企业的一次性奖励", 100, False,
             lambda r: [c("industry_code", "prefix", ["C"]), c("revenue_wan", ">=", _scaled(r, 20000)),
                        c("employees", ">=", 300), GOOD_TAX]),
    Template("gx", "工业企业首次升规奖励", "首次纳入规模以上工业统计的企业一次性奖励", 10, True,
             lambda r: [c("industry_code", "prefix", ["C", "D"]), c("revenue_wan", "between", [2000, 4000]),
                        c("age_years", ">=", 1), ACTIVE]),
    Template("sj", "发明专利资助", "每件授权发明专利资助", 0.5, False,
             lambda r: [ACTIVE, c("invention_patents", ">=", r.choice((1, 2, 5)))]),
    Template("tax", "纳税信用A级企业激励", "办税绿色通道、发票按需领用", 0, False,
             lambda r: [c("tax_credit_rating", "==", "A"), COMPANY]),
    Template("xzsp", "新开办企业首套印章和开办补贴", "新开办企业免费刻制首套印章并给予开办补贴", 0.5, True,
             lambda r: [COMPANY, c("age_years", "<=", 1), ACTIVE]),
    Template("czj", "小微企业创业担保贷款贴息", "贷款额度最高300万元，财政贴息50%", 15, False,
             lambda r: [c("revenue_band", "in", ["micro", "small"]), c("age_years", "<=", r.choice((3, 5))),
                        c("tax_credit_rating", "not_in", ["C", "D"])]),
    Template("tax", "小型微利企业所得税减免", "年应纳税所得额不超过300万元的部分减按25%计入", 0, False,
             lambda r: [COMPANY, c("employees", "<=", 300), c("revenue_wan", "<=", 5000)]),
    Template("wl", "文化创意产业发展扶持", "优秀文化创意项目给予资金扶持", 30, False,
             lambda r: [c("industry_code", "prefix", ["R86", "L72", "I64"]), c("age_years", ">=", 1), GOOD_TAX]),
    Template("gx", "生物医药产业发展扶持", "新药研发和产业化项目补助", 200, False,
             lambda r: [c("industry_code", "prefix", ["C27"]), c("rd_spend_wan", ">=", _scaled(r, 200))]),
    Template("gx", "工程机械产业链配套奖励", "本地配套采购额增量奖励", 50, False,
             lambda r: [c("industry_code", "prefix", ["C35", "C36", "C38"]), c("revenue_wan", ">=", _scaled(r, 5000))]),
    Template("sw", "现代物流业发展扶持", "新增仓储设施和多式联运项目补助", 30, False,
             lambda r: [c("industry_code", "prefix", ["G54", "G59"]), c("employees", ">=", 20)]),
    Template("sj", "个体工商户纾困补贴", "吸纳就业的个体工商户一次性补贴", 0.3, True,
             lambda r: [c("entity_type", "==", "individual_business"), ACTIVE, c("employees", ">=", 2)]),
    Template("ny", "农业产业化龙头企业奖励", "新认定的农业产业化龙头企业一次性奖励", 20, False,
             lambda r: [c("industry_code", "prefix", ["A", "C13", "C14"]), c("revenue_wan", ">=", _scaled(r, 2000))]),
    Template("rs", "吸纳重点群体就业税收扣减", "按每人每年7800元定额依次扣减税费", 0.78, False,
             lambda r: [c("graduates_hired", ">=", 1), c("insured_employees", ">=", 1), GOOD_TAX]),
)

ISSUERS = {
    "national": {"kj": "科学技术部", "gx": "工业和信息化部", "rs": "人力资源社会保障部", "sw": "商务部",
                 "tax": "财政部 税务总局", "sj": "国家知识产权局", "xzsp": "国务院办公厅", "czj": "财政部",
                 "wl": "文化和旅游部", "ny": "农业农村部"},
    "provincial": {"kj": "湖南省科学技术厅", "gx": "湖南省工业和信息化厅", "rs": "湖南省人力资源和社会保障厅",
                   "sw": "湖南省商务厅", "tax": "国家税务总局湖南省税务局", "sj": "湖南省市场监督管理局",
                   "xzsp": "湖南省人民政府办公厅", "czj": "湖南省财政厅", "wl": "湖南省文化和旅游厅", "ny": "湖南省农业农村厅"},
    "municipal": {"kj": "长沙市科学技术局", "gx": "长沙市工业和信息化局", "rs": "长沙市人力资源和社会保障局",
                  "sw": "长沙市商务局", "tax": "国家税务总局长沙市税务局", "sj": "长沙市市场监督管理局",
                  "xzsp": "长沙市行政审批服务局", "czj": "长沙市财政局", "wl": "长沙市文化旅游广电局", "ny": "长沙市农业农村局"},
}
DISTRICT_OFFICES = {"kj": "科技和工业信息化局", "gx": "科技和工业信息化局", "rs": "人力资源和社会保障局", "sw": "商务局",
                    "tax": "税务局", "sj": "市场监督管理局", "xzsp": "行政审批服务局", "czj": "财政局", "wl": "文化旅游体育局",
                    "ny": "农业农村局"}
CITY_DEPARTMENTS = {"kj": "kjj", "gx": "gxj", "rs": "rsj", "sw": "swuj", "tax": "swj_tax", "sj": "scj", "xzsp": "xzsp",
                    "czj": "czj", "wl": "wlj", "ny": "nyj"}
LEVEL_COUNTS = {"national": 60, "provincial": 80, "municipal": 160, "district": 207}
LEVEL_FACTOR = {"national": 1.0, "provincial": 1.0, "municipal": 1.0, "district": 0.3}
LEVEL_CODES = {"national": "GJ", "provincial": "HN", "municipal": "CS"}
BATCHES = ("", "（第一批）", "（第二批）", "（第三批）")


def policy_rows(rng: random.Random) -> list[dict[str, Any]]:
    districts = list(rules.ENUM_LABELS["division_code"].items())
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for level, count in LEVEL_COUNTS.items():
        made = 0
        variant = 0
        while made < count:
            template = TEMPLATES[variant % len(TEMPLATES)]
            year = 2026 - (variant // (len(TEMPLATES) * len(BATCHES))) % 3  # titles repeat only after 300 variants
            batch = BATCHES[(variant // len(TEMPLATES)) % len(BATCHES)]
            variant += 1
            division_code, place = None, ""
            if level == "district":
                division_code, place = districts[variant % len(districts)]
                issuer = f"{place}{DISTRICT_OFFICES[template.key]}"
            else:
                issuer = ISSUERS[level][template.key]
                place = {"national": "", "provincial": "湖南省", "municipal": "长沙市"}[level]
            title = f"{place}{year}年度{template.title}{batch}"
            if title in seen:
                if variant > 100 * count:
                    raise ValueError(f"too few distinct {level} policy titles for {count} policies")
                continue
            seen.add(title)
            conditions = template.conditions(rng)
            if division_code is not None:
                conditions = [c("division_code", "==", division_code), *conditions]
            rule = {"all": conditions}
            rules.require_valid(rule)
            amount = int(template.amount_wan * LEVEL_FACTOR[level] * _WAN)
            deadline = date(year, 12, 31) + timedelta(days=rng.choice((0, 90, 180)))
            prefix = LEVEL_CODES.get(level, f"D{division_code[-3:]}" if division_code else "D")
            rows.append({
                "code": f"{prefix}-{template.key.upper()}-{year}-{made + 1:04d}", "title": title,
                "summary": f"{issuer}发布。{template.note}。符合条件的企业"
                           f"{'无需申请，由系统直接兑现' if template.no_application else '可在线申报'}。",
                "level": level, "issuer": issuer,
                "department_code": CITY_DEPARTMENTS[template.key] if level in ("municipal", "district") else None,
                "division_code": division_code or {"municipal": "430100", "provincial": "430000"}.get(level),
                "benefit_amount_yuan": amount, "benefit_note": template.note, "deadline": deadline,
                "no_application": template.no_application and level in ("municipal", "district"),
                "conditions": rule, "status": "archived" if deadline < date(2026, 11, 25) else "published",
                "created_at": RECORDED_AT, "updated_at": RECORDED_AT,
            })
            made += 1
    return rows


def load_policies(session: Session, ctx: DemoContext) -> None:
    rows = policy_rows(ctx.rng("policies"))
    session.execute(insert(cast(Table, Policy.__table__)), rows)
    ctx.progress("policies", len(rows), len(rows))


def run_campaigns(session: Session, ctx: DemoContext) -> None:
    """November's campaigns: every 免申即享 policy and a sample of the others, then some feedback."""
    rng = ctx.rng("policy_campaigns")
    policies = session.execute(select(Policy.id, Policy.no_application).where(Policy.status == "published")
                               .order_by(Policy.id)).all()
    free = [pid for pid, no_app in policies if no_app]
    others = [pid for pid, no_app in policies if not no_app]
    small = ctx.scale == "small"  # the test suite builds the small city: keep it quick
    chosen = rng.sample(free, min(len(free), 40)) if small else free
    chosen += rng.sample(others, min(len(others), 20 if small else 120))
    frame = matching.enterprise_frame(session)[0]
    for n, policy_id in enumerate(sorted(chosen)):
        at = RECORDED_AT + timedelta(days=n % 20, hours=9 + n % 8)
        service.push_policy(session, policy_id=policy_id, actor="demo", at=at, frame=frame)
    pushes = session.execute(select(PolicyPush.id, PolicyPush.pushed_at).order_by(PolicyPush.id)).all()
    answers = [{"id": push_id, "feedback": "useful" if rng.random() < 0.86 else "not_useful",
                "feedback_at": at + timedelta(days=rng.randint(0, 3))}
               for push_id, at in pushes if rng.random() < 0.35]
    if answers:
        session.execute(update(PolicyPush), answers)  # bulk update by primary key (one executemany)
    ctx.progress("policy campaigns", len(chosen), len(chosen))


DEMO_STEPS = [
    DemoStep("policy_profiles", load_profiles, depends_on=("legal_entities",),
             description="enterprise facts from tax, HR, customs and statistics for policy matching"),
    DemoStep("policies", load_policies, depends_on=("departments", "divisions"),
             description="507 惠企政策: national, provincial, municipal and district"),
    DemoStep("policy_campaigns", run_campaigns, depends_on=("policies", "policy_profiles", "citizen_accounts"),
             description="November's push campaigns, 免申即享 grants and feedback"),
]
