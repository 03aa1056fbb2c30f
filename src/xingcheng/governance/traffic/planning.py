"""Signal plans: versioned, validated, retimed every interval, applied on a schedule, audited.

Life of a plan: ``proposed`` (manual) or computed by ``retime_network`` → validation (cycle
limits, no conflicting protected greens, phase structure unchanged) → ``scheduled`` with an
``effective_at`` (or ``rejected`` with its problems) → ``apply_due_plans`` sends it to the
intersection's controller adapter → ``active``; the previous active plan becomes ``superseded``.
Every transition writes an audit entry (``traffic.plan.*``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.audit.service import AuditEvent
from xingcheng.core.auth import SYSTEM, Principal
from xingcheng.core.db import utcnow
from xingcheng.core.errors import Invalid, NotFound
from xingcheng.core.schemas import PageParams
from xingcheng.governance.traffic.controller import PlanCommand, adapter_for
from xingcheng.governance.traffic.models import Detector, Intersection, RoadNetwork, SignalPlan
from xingcheng.governance.traffic.retiming import RetimingLimits, validate_plan
from xingcheng.governance.traffic.service import get_network_or_raise
from xingcheng.governance.traffic.signals import (
    ArterialCandidate,
    JunctionSignals,
    NetworkRetimer,
    Phase,
    is_green_phase,
)

INTERVAL = timedelta(minutes=15)
LIMITS = RetimingLimits()
PLAN_CYCLE_CEILING = 180.0  # absolute limit for any plan, manual or retimed (GA/T practice)


def get_intersection_or_raise(session: Session, *, network_key: str, key: str) -> Intersection:
    network = get_network_or_raise(session, key=network_key)
    intersection = session.scalar(select(Intersection).where(Intersection.network_id == network.id,
                                                             Intersection.key == key))
    if intersection is None:
        raise NotFound(f"no intersection '{key}' in network '{network_key}'")
    return intersection


def active_plan(session: Session, intersection_id: int) -> SignalPlan | None:
    return session.scalar(select(SignalPlan).where(SignalPlan.intersection_id == intersection_id,
                                                   SignalPlan.status == "active")
                          .order_by(SignalPlan.version.desc()).limit(1))


def plan_read(plan: SignalPlan, intersection_key: str) -> dict[str, Any]:
    return {"id": plan.id, "intersection": intersection_key, "version": plan.version, "phases": plan.phases,
            "cycle_s": plan.cycle_s, "offset_s": plan.offset_s, "status": plan.status, "source": plan.source,
            "effective_at": plan.effective_at, "flow_ratio_sum": plan.flow_ratio_sum, "created_by": plan.created_by,
            "problems": plan.problems}


def list_plans(session: Session, *, network_key: str, key: str, page: PageParams) -> tuple[list[dict[str, Any]], int]:
    intersection = get_intersection_or_raise(session, network_key=network_key, key=key)
    query = select(SignalPlan).where(SignalPlan.intersection_id == intersection.id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    plans = session.scalars(query.order_by(SignalPlan.version.desc()).limit(page.limit).offset(page.offset))
    return [plan_read(plan, key) for plan in plans], total


def conflicts_of(reference: list[dict[str, Any]]) -> set[tuple[int, int]]:
    """Link pairs never protected-green together in the imported plan: the junction's conflict
    matrix as the plan designer left it (a new plan may not give both a protected green)."""
    states = [phase["state"] for phase in reference]
    size = max((len(state) for state in states), default=0)
    together: set[tuple[int, int]] = set()
    ever_green = set()
    for state in states:
        greens = [i for i, char in enumerate(state) if char == "G"]
        ever_green.update(greens)
        together.update((a, b) for a in greens for b in greens if a < b)
    return {(a, b) for a in range(size) for b in range(a + 1, size)
            if a in ever_green and b in ever_green and (a, b) not in together}


def validate(intersection: Intersection, phases: list[dict[str, Any]], reference: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    size = len(intersection.link_lanes)
    for index, phase in enumerate(phases):
        if len(phase["state"]) != size:
            problems.append(f"phase {index}: {len(phase['state'])} signals for {size} controlled links")
    if not any(is_green_phase(phase["state"]) for phase in phases):
        problems.append("no green phase")
    if problems:
        return problems
    reference_cycle = sum(float(p["duration"]) for p in reference)
    problems += validate_plan([p["state"] for p in phases], [float(p["duration"]) for p in phases],
                              conflicts_of(reference), min_cycle=min(LIMITS.min_cycle, reference_cycle),
                              max_cycle=max(PLAN_CYCLE_CEILING, reference_cycle))
    return problems


def _reference_phases(session: Session, intersection_id: int) -> list[dict[str, Any]]:
    first = session.scalar(select(SignalPlan).where(SignalPlan.intersection_id == intersection_id)
                           .order_by(SignalPlan.version).limit(1))
    return first.phases if first else []


def _next_version(session: Session, intersection_id: int) -> int:
    return int(session.scalar(select(func.max(SignalPlan.version)).where(
        SignalPlan.intersection_id == intersection_id)) or 0) + 1


def create_plan(session: Session, *, network_key: str, key: str, phases: list[dict[str, Any]], offset_s: float,
                effective_at: datetime | None, actor: Principal) -> dict[str, Any]:
    """A manual plan: validated now; scheduled when valid, stored as rejected (with why) when not."""
    intersection = get_intersection_or_raise(session, network_key=network_key, key=key)
    problems = validate(intersection, phases, _reference_phases(session, intersection.id))
    cycle = sum(float(p["duration"]) for p in phases)
    plan = SignalPlan(intersection_id=intersection.id, version=_next_version(session, intersection.id),
                      phases=phases, cycle_s=round(cycle, 1), offset_s=round(offset_s % cycle, 1),
                      status="rejected" if problems else "scheduled", source="manual",
                      effective_at=effective_at or utcnow(), created_by=actor.name, problems=problems)
    session.add(plan)
    session.flush()
    audit.record(session, actor=actor, action="traffic.plan.create", subject=f"traffic_plan:{intersection.key}:v{plan.version}",
                 result="rejected" if problems else "ok", details={"cycle_s": plan.cycle_s, "problems": problems})
    return plan_read(plan, key)


def _network_signals(session: Session, network: RoadNetwork) -> tuple[list[JunctionSignals], dict[str, Intersection],
                                                                        dict[str, SignalPlan]]:
    intersections = {i.key: i for i in session.scalars(select(Intersection).where(Intersection.network_id == network.id))}
    plans = {plan.intersection_id: plan for plan in session.scalars(
        select(SignalPlan).where(SignalPlan.intersection_id.in_([i.id for i in intersections.values()]),
                                 SignalPlan.status == "active"))}
    junctions: list[JunctionSignals] = []
    active: dict[str, SignalPlan] = {}
    for key, intersection in sorted(intersections.items()):
        plan = plans.get(intersection.id)
        if plan is None:
            continue
        active[key] = plan
        junctions.append(JunctionSignals(
            key=key, phases=[Phase(p["state"], float(p["duration"])) for p in plan.phases],
            link_lanes=list(intersection.link_lanes),
            crossing_lengths={int(k): float(v) for k, v in (intersection.crossing_lengths or {}).items()},
            offset=plan.offset_s))
    return junctions, intersections, active


def retime_network(session: Session, *, network_key: str, at: datetime | None = None, coordinate: bool = True,
                   actor: Principal = SYSTEM) -> dict[str, Any]:
    """Webster retiming of every intersection from the detectors' last interval; new plan
    versions scheduled for the next interval boundary (or rejected when validation fails)."""
    started = time.perf_counter()
    network = get_network_or_raise(session, key=network_key)
    junctions, intersections, active = _network_signals(session, network)
    if not junctions:
        raise Invalid(f"road network '{network_key}' has no intersection with an active plan")
    detectors = list(session.scalars(select(Detector).where(
        Detector.intersection_id.in_([i.id for i in intersections.values()]))))
    by_id = {i.id: i.key for i in intersections.values()}
    measured = [d for d in detectors if d.last_count is not None and d.last_interval_start is not None]
    if not measured:
        raise Invalid("no detector has reported an interval yet; send detector data first")
    interval_start = max(d.last_interval_start for d in measured if d.last_interval_start)
    interval_s = INTERVAL.total_seconds()
    counts = {(by_id[d.intersection_id], d.lane): float(d.last_count or 0.0) * 3600.0 / interval_s
              for d in measured if d.intersection_id in by_id and d.last_interval_start == interval_start}
    retimer = NetworkRetimer(junctions, LIMITS)
    demand = np.array([counts.get(key, 0.0) for key in retimer.detectors])
    arterials = [ArterialCandidate(upstream=a["upstream"], upstream_phase=int(a["upstream_phase"]),
                                   downstream=a["downstream"], downstream_lanes=tuple(a["downstream_lanes"]),
                                   travel_time=float(a["travel_time"])) for a in network.arterials or []]
    new_plans = retimer.retime(demand, arterials, coordinate_arterials=coordinate)
    now = at or utcnow()
    effective = _next_boundary(now)
    retimed = rejected = unchanged = 0
    events: list[AuditEvent] = []
    for plan in new_plans:
        intersection, current = intersections[plan.key], active[plan.key]
        phases = [{"state": p["state"], "duration": d} for p, d in zip(current.phases, plan.durations, strict=True)]
        if phases == current.phases and abs(plan.offset - current.offset_s) < 0.5:
            unchanged += 1
            continue
        problems = validate(intersection, phases, _reference_phases(session, intersection.id))
        version = _next_version(session, intersection.id)
        session.add(SignalPlan(intersection_id=intersection.id, version=version, phases=phases, cycle_s=plan.cycle,
                               offset_s=plan.offset, status="rejected" if problems else "scheduled", source="retimed",
                               effective_at=effective, flow_ratio_sum=plan.flow_ratio_sum, created_by=actor.name,
                               problems=problems))
        session.flush()
        if problems:
            rejected += 1
        else:
            retimed += 1
        events.append(AuditEvent(actor=actor, action="traffic.plan.retime",
                                 subject=f"traffic_plan:{plan.key}:v{version}", result="rejected" if problems else "ok",
                                 details={"cycle_s": plan.cycle, "offset_s": plan.offset, "Y": plan.flow_ratio_sum,
                                          "effective_at": effective.isoformat(), "problems": problems}))
    audit.record_many(session, events)
    groups = len({p.cycle for p in new_plans if sum(1 for q in new_plans if q.cycle == p.cycle) > 1})
    return {"network": network_key, "interval_start": interval_start, "effective_at": effective, "retimed": retimed,
            "rejected": rejected, "unchanged": unchanged, "coordinated_groups": groups,
            "seconds": round(time.perf_counter() - started, 3)}


def _next_boundary(moment: datetime) -> datetime:
    base = moment.replace(minute=0, second=0, microsecond=0)
    steps = int((moment - base) / INTERVAL) + 1
    return base + steps * INTERVAL


def apply_due_plans(session: Session, *, now: datetime | None = None, actor: Principal = SYSTEM) -> dict[str, Any]:
    """Send every scheduled plan whose time has come to its controller; activate it on success."""
    moment = now or utcnow()
    due = list(session.scalars(select(SignalPlan).where(SignalPlan.status == "scheduled",
                                                        SignalPlan.effective_at <= moment)
                               .order_by(SignalPlan.intersection_id, SignalPlan.version)))
    applied, failed = 0, []
    events: list[AuditEvent] = []
    for plan in due:
        intersection = session.get(Intersection, plan.intersection_id)
        if intersection is None:
            continue
        # A newer due plan for the same intersection wins; this one is skipped.
        if any(other.intersection_id == plan.intersection_id and other.version > plan.version for other in due):
            plan.status = "superseded"
            continue
        try:
            adapter_for(intersection.controller).apply(PlanCommand(
                intersection=intersection.key, version=plan.version, offset_s=plan.offset_s,
                at_s=moment.timestamp(), phases=[Phase(p["state"], float(p["duration"])) for p in plan.phases]))
        except (LookupError, ValueError, RuntimeError) as error:
            failed.append(f"{intersection.key} v{plan.version}: {error}")
            events.append(AuditEvent(actor=actor, action="traffic.plan.apply", result="failed",
                                     subject=f"traffic_plan:{intersection.key}:v{plan.version}",
                                     details={"error": str(error)[:300]}))
            continue
        for previous in session.scalars(select(SignalPlan).where(SignalPlan.intersection_id == plan.intersection_id,
                                                                 SignalPlan.status == "active")):
            previous.status = "superseded"
        plan.status = "active"
        applied += 1
        events.append(AuditEvent(actor=actor, action="traffic.plan.apply",
                                 subject=f"traffic_plan:{intersection.key}:v{plan.version}",
                                 details={"controller": intersection.controller, "cycle_s": plan.cycle_s,
                                          "offset_s": plan.offset_s}))
    session.flush()
    audit.record_many(session, events)
    return {"applied": applied, "failed": failed}


def list_intersections(session: Session, *, network_key: str, page: PageParams) -> tuple[list[dict[str, Any]], int]:
    network = get_network_or_raise(session, key=network_key)
    query = select(Intersection).where(Intersection.network_id == network.id)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    intersections = list(session.scalars(query.order_by(Intersection.lon, Intersection.key)
                                         .limit(page.limit).offset(page.offset)))
    ids = [i.id for i in intersections]
    detectors = dict(session.execute(select(Detector.intersection_id, func.count()).where(
        Detector.intersection_id.in_(ids)).group_by(Detector.intersection_id)).all())
    items = []
    for intersection in intersections:
        plan = active_plan(session, intersection.id)
        items.append({"key": intersection.key, "name": intersection.name, "division_code": intersection.division_code,
                      "lon": intersection.lon, "lat": intersection.lat, "controller": intersection.controller,
                      "links": len(intersection.link_lanes), "detectors": int(detectors.get(intersection.id, 0)),
                      "active_plan": plan_read(plan, intersection.key) if plan else None})
    return items, total
