"""Alert rules as data, evaluated on ingest: streaming, not by polling the store.

Each ingested batch is filtered (Arrow) to the datastreams some enabled rule watches; each
(rule, subject) pair then steps through its new points in time order with the state it kept from
earlier batches (``iot_alert_rule_state``). Kinds:

- ``threshold``: alarms when the value is on the ``op`` side of ``value`` for ``min_points``
  consecutive readings (default 1); with ``clear_value`` the alert clears only past that level
  (hysteresis), so a value hovering at the line does not flap.
- ``sustained``: the threshold condition held continuously for ``duration_s``.
- ``rate_of_rise``: the value rose by at least ``rise`` within ``window_s`` (e.g. a gas leak ramp),
  for ``min_points`` consecutive readings.
- ``flatline``: the value stayed within ``tolerance`` for ``duration_s`` (a stuck sensor).
- ``silent``: no observation for ``silent_after_s`` — absence never arrives with a batch, so
  ``sweep_silent`` runs periodically inside ``serve``.
- ``combination``: all ``conditions`` (over several properties of one thing) hold, each on a
  value no older than ``window_s``.

Points older than the last one a pair has seen (late data) do not move its state.
"""

from __future__ import annotations

import logging
import operator
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Conflict, Invalid, NotFound
from xingcheng.core.pagination import paginate
from xingcheng.core.schemas import PageParams
from xingcheng.iot import alerts
from xingcheng.iot.models import AlertRule, AlertRuleState, Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import AlertRaise, RuleCreate, RuleParams, RuleUpdate
from xingcheng.iot.store import ObservationStore

log = logging.getLogger("xingcheng.iot.rules")
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le,
}
OP_TEXT = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
REQUIRED: dict[str, tuple[str, ...]] = {
    "threshold": ("op", "value"),
    "sustained": ("op", "value", "duration_s"),
    "rate_of_rise": ("rise", "window_s"),
    "flatline": ("duration_s",),
    "silent": ("silent_after_s",),
    "combination": ("conditions", "window_s"),
}
MAX_HISTORY = 720  # points a rate-of-rise window keeps per datastream


# ---- rules as data ---------------------------------------------------------------------------

def validate_rule(session: Session, *, kind: str, property: str, params: RuleParams) -> None:
    """Every problem at once, as field errors: missing parameters, a clear level on the wrong side, unknown properties."""
    problems: list[dict[str, str]] = []
    for name in REQUIRED[kind]:
        if getattr(params, name) in (None, []):
            problems.append({"field": f"params.{name}", "message": f"a {kind} rule needs '{name}'"})
    if kind == "threshold" and params.clear_value is not None and params.op and params.value is not None \
            and COMPARE[params.op](params.clear_value, params.value):
        problems.append({"field": "params.clear_value",
                         "message": "the clear level must lie on the non-alarming side of the threshold"})
    properties = {property, *(c.property for c in params.conditions or [])}
    known = set(session.scalars(select(ObservedProperty.name).where(ObservedProperty.name.in_(properties))))
    problems += [{"field": "property", "message": f"unknown observed property '{p}'"} for p in sorted(properties - known)]
    if kind == "combination" and params.conditions and property not in {c.property for c in params.conditions}:
        problems.append({"field": "property", "message": "a combination's property must be one of its conditions"})
    if problems:
        raise Invalid("the rule is not valid: " + "; ".join(p["message"] for p in problems), errors=problems)


def create_rule(session: Session, *, data: RuleCreate, actor: Principal) -> AlertRule:
    validate_rule(session, kind=data.kind, property=data.property, params=data.params)
    if session.scalar(select(AlertRule.id).where(AlertRule.key == data.key)) is not None:
        raise Conflict(f"a rule with key '{data.key}' exists")
    rule = AlertRule(**data.model_dump(exclude={"params"}), params=data.params.model_dump(exclude_none=True))
    session.add(rule)
    session.flush()
    audit.record(session, actor=actor, action="iot.rule.create", subject=f"iot_rule:{rule.key}",
                 details={"kind": rule.kind, "params": rule.params})
    return rule


def update_rule(session: Session, *, key: str, data: RuleUpdate, actor: Principal) -> AlertRule:
    rule = get_rule_or_raise(session, key)
    if data.params is not None:
        validate_rule(session, kind=rule.kind, property=rule.property, params=data.params)
        rule.params = data.params.model_dump(exclude_none=True)
        # New parameters start from a clean slate: remembered windows belong to the old ones.
        for state in session.scalars(select(AlertRuleState).where(AlertRuleState.rule_id == rule.id)):
            session.delete(state)
    for name in ("name", "severity", "enabled"):
        if getattr(data, name) is not None:
            setattr(rule, name, getattr(data, name))
    session.flush()
    audit.record(session, actor=actor, action="iot.rule.update", subject=f"iot_rule:{rule.key}",
                 details=data.model_dump(exclude_none=True, mode="json"))
    return rule


def get_rule_or_raise(session: Session, key: str) -> AlertRule:
    rule = session.scalar(select(AlertRule).where(AlertRule.key == key))
    if rule is None:
        raise NotFound(f"no rule with key '{key}'")
    return rule


def list_rules(session: Session, *, page: PageParams, kind: str | None = None) -> tuple[list[AlertRule], int]:
    statement = select(AlertRule).order_by(AlertRule.id)
    if kind:
        statement = statement.where(AlertRule.kind == kind)
    return paginate(session, statement, page)


# ---- streaming evaluation --------------------------------------------------------------------

@dataclass(frozen=True)
class StreamMeta:
    id: int
    key: str
    property: str
    thing_key: str
    thing_kind: str
    division_code: str


def _meta(session: Session, ids: Iterable[int] | None = None, rule: AlertRule | None = None) -> list[StreamMeta]:
    statement = (
        select(Datastream.id, Datastream.key, ObservedProperty.name, Thing.key, Thing.kind, Thing.division_code)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
    )
    if ids is not None:
        statement = statement.where(Datastream.id.in_(list(ids)))
    if rule is not None:
        statement = statement.where(ObservedProperty.name == rule.property)
        for column, value in ((Thing.kind, rule.thing_kind), (Thing.division_code, rule.division_code),
                              (Thing.key, rule.thing_key)):
            if value:
                statement = statement.where(column == value)
    return [StreamMeta(*row) for row in session.execute(statement).all()]


def _selects(rule: AlertRule | RuleSpec, meta: StreamMeta) -> bool:
    properties = {c["property"] for c in rule.params.get("conditions", [])} if rule.kind == "combination" else {rule.property}
    return (meta.property in properties and (not rule.thing_kind or rule.thing_kind == meta.thing_kind)
            and (not rule.division_code or rule.division_code == meta.division_code)
            and (not rule.thing_key or rule.thing_key == meta.thing_key))


@dataclass
class _Pair:
    """One rule on one subject during one batch: its state row and what it decided."""

    rule: RuleSpec
    subject: str
    state: AlertRuleState
    thing_key: str
    raised: list[tuple[datetime, float, dict[str, Any]]]
    cleared: list[tuple[datetime, str]]


def _dedup_key(rule: AlertRule | RuleSpec, subject: str) -> str:
    return f"rule:{rule.key}:{subject}"


def _step_threshold(pair: _Pair, t: float, v: float) -> None:
    p, s = pair.rule.params, pair.state
    alarming = COMPARE[p["op"]](v, p["value"])
    # Debounce: a single glitching sample is not a leak; ``min_points`` consecutive readings are.
    s.state["run"] = s.state.get("run", 0) + 1 if alarming else 0
    if not s.active and alarming and s.state["run"] >= p.get("min_points", 1):
        s.active = True
        pair.raised.append((_dt(t), v, {"threshold": p["value"], "op": p["op"], "points": s.state["run"]}))
    elif s.active:
        clear = p.get("clear_value")
        cleared = not alarming if clear is None else not COMPARE[p["op"]](v, clear)
        if cleared:
            s.active = False
            pair.cleared.append((_dt(t), f"数值回落至 {v:g}"))


def _step_sustained(pair: _Pair, t: float, v: float) -> None:
    p, st = pair.rule.params, pair.state.state
    if COMPARE[p["op"]](v, p["value"]):
        st.setdefault("since", t)
        if not pair.state.active and t - st["since"] >= p["duration_s"]:
            pair.state.active = True
            pair.raised.append((_dt(t), v, {"since": _dt(st["since"]).isoformat(), "duration_s": p["duration_s"]}))
    else:
        st.pop("since", None)
        if pair.state.active:
            pair.state.active = False
            pair.cleared.append((_dt(t), f"数值回落至 {v:g}"))


def _step_rate(pair: _Pair, t: float, v: float) -> None:
    p, st = pair.rule.params, pair.state.state
    history: list[list[float]] = [h for h in st.get("history", []) if h[0] >= t - p["window_s"]]
    low = min((h[1] for h in history), default=v)
    rise = v - low
    st["run"] = st.get("run", 0) + 1 if rise >= p["rise"] else 0  # debounce as for thresholds
    if not pair.state.active and rise >= p["rise"] and st["run"] >= p.get("min_points", 1):
        pair.state.active = True
        pair.raised.append((_dt(t), v, {"rise": round(rise, 6), "window_s": p["window_s"]}))
    elif pair.state.active and rise < p["rise"] / 2 and history:
        pair.state.active = False
        pair.cleared.append((_dt(t), "上升趋势已平稳"))
    history.append([t, v])
    st["history"] = history[-MAX_HISTORY:]


def _step_flatline(pair: _Pair, t: float, v: float) -> None:
    p, st = pair.rule.params, pair.state.state
    if "ref" in st and abs(v - st["ref"]) <= p.get("tolerance", 0.0):
        if not pair.state.active and t - st["since"] >= p["duration_s"]:
            pair.state.active = True
            pair.raised.append((_dt(t), v, {"stuck_since": _dt(st["since"]).isoformat(), "duration_s": p["duration_s"]}))
    else:
        st["ref"], st["since"] = v, t
        if pair.state.active:
            pair.state.active = False
            pair.cleared.append((_dt(t), "数值恢复变化"))


def _step_combination(pair: _Pair, t: float, v: float, prop: str) -> None:
    p, st = pair.rule.params, pair.state.state
    last: dict[str, list[float]] = st.setdefault("last", {})
    last[prop] = [t, v]
    holding = all(
        c["property"] in last and t - last[c["property"]][0] <= p["window_s"]
        and COMPARE[c["op"]](last[c["property"]][1], c["value"])
        for c in p["conditions"]
    )
    if holding and not pair.state.active:
        pair.state.active = True
        pair.raised.append((_dt(t), v, {"values": {k: x[1] for k, x in last.items()}}))
    elif not holding and pair.state.active:
        pair.state.active = False
        pair.cleared.append((_dt(t), "组合条件不再同时满足"))


STEPS: dict[str, Callable[[_Pair, float, float], None]] = {
    "threshold": _step_threshold, "sustained": _step_sustained, "rate_of_rise": _step_rate, "flatline": _step_flatline,
}


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _describe(rule: RuleSpec) -> str:
    p = rule.params
    if rule.kind in ("threshold", "sustained"):
        return f"{rule.property} {OP_TEXT[p['op']]} {p['value']:g}"
    if rule.kind == "rate_of_rise":
        return f"{rule.property} 在 {p['window_s']} 秒内上升 ≥ {p['rise']:g}"
    if rule.kind == "flatline":
        return f"{rule.property} 连续 {p['duration_s']} 秒无变化"
    if rule.kind == "combination":
        return "；".join(f"{c['property']} {OP_TEXT[c['op']]} {c['value']:g}" for c in p["conditions"])
    return rule.kind


# ---- the enabled streaming rules, cached per database until a rule changes ---------------------

@dataclass(frozen=True)
class RuleSpec:
    """An enabled streaming rule as evaluation reads it: detached from any session, safe to keep between batches."""

    id: int
    key: str
    name: str
    kind: str
    severity: str
    property: str
    thing_kind: str | None
    division_code: str | None
    thing_key: str | None
    department_code: str | None
    params: dict[str, Any]


# Cheap enough for every batch, and it changes whenever a rule is created, updated (``updated_at``
# is bumped by the ORM), enabled, disabled or deleted — in this process or any other.
_FINGERPRINT = select(func.count(), func.max(AlertRule.id), func.max(AlertRule.updated_at), func.sum(AlertRule.id))
_STREAMING = select(AlertRule).where(AlertRule.enabled.is_(True), AlertRule.kind != "silent").order_by(AlertRule.id)
_cache: weakref.WeakKeyDictionary[Engine, tuple[tuple[Any, ...], list[RuleSpec]]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def streaming_rules(session: Session) -> list[RuleSpec]:
    """The enabled streaming rules, re-read only when the rule table's fingerprint moved (one aggregate query).

    Keyed by engine, so two databases in one process (tests, the evaluation run) never share rules.
    The fingerprint is read in the caller's transaction: a rule committed before this batch began is seen.
    """
    engine = session.get_bind().engine
    fingerprint = tuple(session.execute(_FINGERPRINT).one())
    with _cache_lock:
        cached = _cache.get(engine)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    specs = [RuleSpec(r.id, r.key, r.name, r.kind, r.severity, r.property, r.thing_kind, r.division_code, r.thing_key,
                      r.department_code, dict(r.params or {})) for r in session.scalars(_STREAMING)]
    with _cache_lock:
        _cache[engine] = (fingerprint, specs)
    return specs


def _metas_from(streams: pa.Table, ids: list[int]) -> list[StreamMeta]:
    """The batch's datastreams from the ingest lookup (it already joined thing and property): no second query."""
    wanted = streams.filter(pc.is_in(streams.column("id"), value_set=pa.array(ids, pa.int64())))
    columns = [wanted.column(name).to_pylist() for name in ("id", "key", "property", "thing_key", "thing_kind",
                                                             "division_code")]
    return [StreamMeta(*row) for row in zip(*columns, strict=True)]


def evaluate_batch(session: Session, batch: pa.Table, *, streams: pa.Table | None = None) -> int:
    """Run every enabled streaming rule over the new observations in ``batch``; return alerts opened.

    ``batch`` has ``datastream_id``, ``phenomenon_time`` (UTC, naive) and ``result`` columns and
    holds only rows the store accepted (duplicates removed), so a retried batch raises nothing twice.
    ``streams`` (ingest's lookup: id, key, property, thing_key, thing_kind, division_code) saves
    reading the datastreams' metadata again.
    """
    if batch.num_rows == 0:
        return 0
    rules = streaming_rules(session)
    if not rules:
        return 0
    ids = pc.unique(batch.column("datastream_id")).to_pylist()
    metas = {m.id: m for m in (_metas_from(streams, ids) if streams is not None else _meta(session, ids))}
    # Which rules watch which datastream, decided once per batch rather than once per point.
    selected = {m.id: [r for r in rules if _selects(r, m)] for m in metas.values()}
    watched = {ds_id for ds_id, chosen in selected.items() if chosen}
    if not watched:
        return 0
    rows = batch.filter(pc.is_in(batch.column("datastream_id"), value_set=pa.array(sorted(watched), pa.int64())))
    rows = rows.sort_by([("phenomenon_time", "ascending"), ("datastream_id", "ascending")])
    epoch = pc.divide(pc.cast(pc.cast(rows.column("phenomenon_time"), pa.timestamp("us")), pa.int64()), 1_000_000.0)
    points = list(zip(rows.column("datastream_id").to_pylist(), epoch.to_pylist(), rows.column("result").to_pylist(),
                      strict=True))

    def subject_of(rule: RuleSpec, meta: StreamMeta) -> str:
        return meta.thing_key if rule.kind == "combination" else meta.key

    wanted = {(r.id, subject_of(r, metas[ds_id])): metas[ds_id].thing_key for ds_id in watched for r in selected[ds_id]}
    # Several workers split a shared subscription by message, not by device, so two batches can carry
    # the same subject: lock its state rows (PostgreSQL; in key order, so two batches cannot deadlock)
    # and the second batch evaluates on the first one's result instead of overwriting it. A state row
    # both create at once fails one batch on the primary key; unacked, it is redelivered and retried.
    stored = {
        (s.rule_id, s.subject): s for s in session.scalars(
            select(AlertRuleState).where(AlertRuleState.rule_id.in_([r.id for r in rules]),
                                         AlertRuleState.subject.in_({subject for _, subject in wanted}))
            .order_by(AlertRuleState.rule_id, AlertRuleState.subject).with_for_update())
    }
    by_id = {r.id: r for r in rules}
    pairs: dict[tuple[int, str], _Pair] = {}
    for (rule_id, subject), thing in wanted.items():
        state = stored.get((rule_id, subject))
        if state is None:
            state = AlertRuleState(rule_id=rule_id, subject=subject, active=False, state={})
            session.add(state)
        state.state = dict(state.state or {})  # a fresh dict so the JSON column sees the change
        pairs[(rule_id, subject)] = _Pair(by_id[rule_id], subject, state, thing, [], [])
    steps = {ds_id: [(pairs[(r.id, subject_of(r, metas[ds_id]))], r.kind,
                      f"t:{metas[ds_id].property}" if r.kind == "combination" else "t") for r in selected[ds_id]]
             for ds_id in watched}

    for ds_id, t, v in points:
        for pair, kind, clock_key in steps[ds_id]:
            if t < pair.state.state.get(clock_key, float("-inf")):
                continue  # late data: the state has moved past it
            pair.state.state[clock_key] = t
            if kind == "combination":
                _step_combination(pair, t, float(v), metas[ds_id].property)
            else:
                STEPS[kind](pair, t, float(v))

    opened = 0
    now = datetime.now(UTC)
    for pair in pairs.values():
        pair.state.updated_at = now
        opened += _apply(session, pair)
    session.flush()
    return opened


def _apply(session: Session, pair: _Pair) -> int:
    """Turn a pair's decisions, in time order, into raised and resolved alerts."""
    rule, key = pair.rule, _dedup_key(pair.rule, pair.subject)
    raises = [(t, 1, index) for index, (t, _, _) in enumerate(pair.raised)]
    clears = [(t, 0, index) for index, (t, _) in enumerate(pair.cleared)]
    opened = 0
    for moment, is_raise, index in sorted(raises + clears):  # a clear and a raise at one instant: clear first
        if not is_raise:
            alerts.resolve_by_key(session, dedup_key=key, at=moment, reason=pair.cleared[index][1])
            continue
        _, value, details = pair.raised[index]
        _, created = alerts.raise_alert(session, AlertRaise(
            source="iot.rule", kind=rule.kind, severity=rule.severity,
            title=f"{rule.name}（{_describe(rule)}）"[:200], dedup_key=key, thing_key=pair.thing_key,
            datastream_key=None if rule.kind == "combination" else pair.subject,
            department_code=rule.department_code, value=value, observed_at=moment,
            details={"rule": rule.key, **details},
        ), rule_id=rule.id)
        opened += created
    return opened


def sweep_silent(session: Session, *, store: ObservationStore, now: datetime | None = None) -> int:
    """Silent-sensor rules: raise for each selected datastream with no observation for too long, resolve when data returns."""
    now = now or datetime.now(UTC)
    opened = 0
    for rule in session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True), AlertRule.kind == "silent")):
        streams = _meta(session, rule=rule)
        latest = {v.datastream_id: v.time for v in store.latest([m.id for m in streams])}
        limit = rule.params["silent_after_s"]
        for meta in streams:
            seen = latest.get(meta.id)
            key = _dedup_key(rule, meta.key)
            if seen is None or (now - seen).total_seconds() > limit:
                _, created = alerts.raise_alert(session, AlertRaise(
                    source="iot.rule", kind="silent", severity=rule.severity,
                    title=f"{rule.name}（{limit} 秒无数据）"[:200], dedup_key=key, thing_key=meta.thing_key,
                    datastream_key=meta.key, department_code=rule.department_code, observed_at=now,
                    details={"rule": rule.key, "last_seen": seen.isoformat() if seen else None},
                ), rule_id=rule.id)
                opened += created
            else:
                alerts.resolve_by_key(session, dedup_key=key, at=now, reason="设备恢复上报")
    session.flush()
    return opened
