"""Observation ingest: every item checked on its own, the good ones stored, a result per item.

The JSON values arrive as Python objects, so one pass sorts each item's shape and result type;
the checks that scale with the batch — datastream lookup, ownership, type, range, future
tolerance — then run as Arrow column operations, and the store's anti-join decides duplicates.
Reasons: malformed, bad_timestamp, unknown_datastream, not_your_datastream, wrong_type,
future_timestamp, out_of_range.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.audit import service as audit
from xingcheng.core.auth import Principal
from xingcheng.core.errors import Forbidden
from xingcheng.iot import rules
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.schemas import IngestReport, ItemResult, RejectReason
from xingcheng.iot.store import ObservationStore

log = logging.getLogger("xingcheng.iot.ingest")
FUTURE_TOLERANCE = timedelta(minutes=5)  # device clocks drift; beyond this a timestamp is wrong, not early
# Result classes from the JSON value: b bool, i integer, f finite float, x anything else.
_CLASS_CODES = {"b": 0, "i": 1, "f": 2, "x": 3}


def _classify(value: Any) -> tuple[str, float]:
    if isinstance(value, bool):
        return "b", float(value)
    if isinstance(value, int):
        return ("i", float(value)) if abs(value) < 2**53 else ("x", 0.0)
    if isinstance(value, float) and math.isfinite(value):
        return ("i" if value.is_integer() else "f"), value
    return "x", 0.0


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:  # a time without an offset is ambiguous across devices: refuse it
            return None
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None


def _lookup(session: Session, keys: list[str]) -> pa.Table:
    """What validation and the streaming rules need of each named datastream, in one query."""
    rows = session.execute(
        select(Datastream.key, Datastream.id, Thing.key, Datastream.valid_min, Datastream.valid_max,
               Datastream.value_type, ObservedProperty.name, Thing.kind, Thing.division_code)
        .join(Thing, Thing.id == Datastream.thing_id)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.key.in_(keys))
    ).all() if keys else []
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 9
    return pa.table({
        "key": pa.array(columns[0], pa.string()), "id": pa.array(columns[1], pa.int64()),
        "thing_key": pa.array(columns[2], pa.string()), "valid_min": pa.array(columns[3], pa.float64()),
        "valid_max": pa.array(columns[4], pa.float64()), "value_type": pa.array(columns[5], pa.string()),
        "property": pa.array(columns[6], pa.string()), "thing_kind": pa.array(columns[7], pa.string()),
        "division_code": pa.array(columns[8], pa.string()),
    })


def _may_write(principal: Principal) -> None:
    if not (principal.has("device:ingest") or principal.has("iot:write")):
        raise Forbidden("only devices (API key) and staff with 'iot:write' may write observations")
    if principal.kind == "device" and not principal.device_key:
        raise Forbidden("this API key is not bound to a device (device_key)")


def ingest(
    session: Session, *, store: ObservationStore, principal: Principal, items: list[Any], now: datetime | None = None,
) -> IngestReport:
    """Store the valid observations among ``items``; report each item as accepted, duplicate or rejected."""
    return ingest_many(session, store=store, batches=[(principal, items)], now=now)[0]


def ingest_many(
    session: Session, *, store: ObservationStore, batches: list[tuple[Principal, list[Any]]], now: datetime | None = None,
    itemised: bool = True,
) -> list[IngestReport]:
    """``ingest`` for several writers at once (the MQTT worker's devices): one report per ``(principal, items)``.

    Each item is checked against its own writer (a device writes only its own datastreams), but the
    lookup, the store append, the rule evaluation and the audit entries happen once for all of them:
    per-writer calls cost one store round trip per device and dominated the worker's batch.
    With ``itemised=False`` a report's ``items`` hold only the rejected ones (all a device is told over MQTT).
    """
    for principal, _ in batches:
        _may_write(principal)
    items = [item for _, batch in batches for item in batch]
    owners = [principal.device_key if principal.kind == "device" else None
              for principal, batch in batches for _ in batch]
    n = len(items)
    reasons: list[RejectReason | None] = [None] * n
    keys: list[str | None] = [None] * n
    times: list[datetime | None] = [None] * n
    values = [0.0] * n
    classes = [3] * n
    parsed: dict[Any, datetime | None] = {}  # a device's readings share their timestamp: parse each text once
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("datastream"), str) \
                or "phenomenon_time" not in item or "result" not in item or len(item) > 3:
            reasons[i] = "malformed"
            continue
        keys[i] = item["datastream"][:130]
        stamp = item["phenomenon_time"]
        if isinstance(stamp, str) and stamp not in parsed:
            parsed[stamp] = _parse_time(stamp)
        times[i] = parsed[stamp] if isinstance(stamp, str) else None
        if times[i] is None:
            reasons[i] = "bad_timestamp"
        code, values[i] = _classify(item["result"])
        classes[i] = _CLASS_CODES[code]

    key_column = pa.array(keys, pa.string())
    known = _lookup(session, sorted({k for k in keys if k is not None}))
    position = pc.index_in(key_column, value_set=known.column("key"))
    found = {name: pc.take(known.column(name), position) for name in ("id", "thing_key", "valid_min", "valid_max",
                                                                     "value_type")}
    cls = pa.array(classes, pa.int8())
    vals = pa.array(values, pa.float64())
    ts = pa.array(times, pa.timestamp("us"))
    limit = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None) + FUTURE_TOLERANCE
    is_bool = pc.equal(found["value_type"], "bool")
    numeric = pc.is_in(cls, value_set=pa.array([1, 2], pa.int8()))
    wrong_type = pc.or_(
        pc.or_(pc.and_(is_bool, pc.not_equal(cls, 0)), pc.and_(pc.invert(is_bool), pc.invert(numeric))),
        pc.and_(pc.equal(found["value_type"], "int"), pc.equal(cls, 2)),
    )
    # A device writes only its own thing's datastreams; staff (owner null) may write any.
    owner = pa.array(owners, pa.string())
    checks: list[tuple[RejectReason, pa.Array]] = [
        ("unknown_datastream", pc.is_null(position)),
        ("not_your_datastream", pc.and_(pc.is_valid(owner), pc.not_equal(found["thing_key"], owner))),
        ("wrong_type", wrong_type),
        ("future_timestamp", pc.greater(ts, pa.scalar(limit, pa.timestamp("us")))),
        ("out_of_range", pc.or_(pc.less(vals, found["valid_min"]), pc.greater(vals, found["valid_max"]))),
    ]
    for reason, failed in checks:  # the first failed check names the reason
        for i in pc.indices_nonzero(pc.fill_null(failed, False)).to_pylist():
            reasons[i] = reasons[i] or reason

    good = pa.array([r is None for r in reasons], pa.bool_())
    batch = pa.table({
        "index": pa.array(range(n), pa.int64()), "datastream_id": found["id"], "phenomenon_time": ts, "result": vals,
    }).filter(good)
    duplicate_index = store.append(batch)
    duplicates = set(duplicate_index.to_pylist())
    _evaluate_rules(session, batch.filter(pc.invert(pc.is_in(batch.column("index"), value_set=duplicate_index))), known)

    reports: list[IngestReport] = []
    events: list[audit.AuditEvent] = []
    offset = 0
    for principal, batch_items in batches:
        span = range(offset, offset + len(batch_items))
        offset += len(batch_items)
        # model_construct: the fields are built here, valid by construction, and pydantic per item cost more than the store
        results = [
            ItemResult.model_construct(index=i - span.start, status="rejected", reason=reasons[i],
                                       detail=_DETAILS[reasons[i]])  # type: ignore[index]
            if reasons[i] is not None
            else ItemResult.model_construct(index=i - span.start, status="duplicate" if i in duplicates else "accepted")
            for i in span if itemised or reasons[i] is not None
        ]
        rejected = sum(reasons[i] is not None for i in span)
        duplicate = sum(i in duplicates for i in span)
        report = IngestReport(accepted=len(span) - rejected - duplicate, duplicate=duplicate, rejected=rejected,
                              items=results)
        reports.append(report)
        events.append(audit.AuditEvent(
            principal, "iot.observations.ingest",
            f"device:{principal.device_key}" if principal.kind == "device" else "iot:observations",
            result="ok" if rejected == 0 else "partial",
            details={"accepted": report.accepted, "duplicate": report.duplicate, "rejected": rejected},
        ))
    audit.record_many(session, events)  # one executemany for every writer of the batch
    return reports


def _evaluate_rules(session: Session, fresh: pa.Table, known: pa.Table) -> None:
    """Streaming rules see exactly the rows stored now; a rule bug must not turn stored data into a failed request."""
    try:
        with session.begin_nested():
            rules.evaluate_batch(session, fresh, streams=known)
    except Exception:  # the observations are already durable; the failure is logged with its rule state
        log.exception("alert rule evaluation failed for a batch of %d observations", fresh.num_rows)


_DETAILS: dict[RejectReason, str] = {
    "malformed": "an item is {datastream, phenomenon_time, result} and nothing else",
    "bad_timestamp": "phenomenon_time must be ISO 8601 with a UTC offset",
    "unknown_datastream": "no datastream with this key (thing_key/property)",
    "not_your_datastream": "this device may only write its own thing's datastreams",
    "wrong_type": "the result's type does not match the datastream's value type",
    "future_timestamp": f"phenomenon_time is more than {int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes in the future",
    "out_of_range": "the result is outside the datastream's valid range",
}
