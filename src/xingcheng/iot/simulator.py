"""A live feed for the demo city's sensors: ``xingcheng iot simulate`` and the light feed inside ``serve``.

Every active datastream reports at its expected interval (or faster, to reach ``rate`` observations
per second), time = now. Values follow ``demo.SIGNALS`` (rush-hour traffic, NO₂ and noise,
night-time PM2.5, working-hours machines) in Beijing time, modulated by:

- weather: a city-wide random walk of wind speed and rain; wind and rain wash out PM2.5/PM10;
- zone class: each noise meter stands in a GB 3096 zone class (1 residential … 4 arterial road),
  which sets its level;
- random faults at ``fault_rate`` per reading: a stuck value for 20–60 minutes (shorter than the
  city's flatline rules, so live data does not flood the alert board), a dropout for 10–40
  minutes, or a single out-of-range spike (which ingest rejects and the quality report counts).

Readings go over MQTT to ``xc/ingest/<thing_key>/obs`` (QoS 1; the ingest worker stores them) or
in-process through ``ingest.ingest`` with each thing's device principal.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time as clock
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from xingcheng.core.events import parse_mqtt_url
from xingcheng.iot import ingest
from xingcheng.iot.demo import SIGNALS
from xingcheng.iot.models import Datastream, ObservedProperty, Thing
from xingcheng.iot.store import ObservationStore
from xingcheng.iot.worker import device_principal

log = logging.getLogger("xingcheng.iot.simulator")
CORE_DISTRICTS = {"430102", "430103", "430104", "430105"}
ZONE_FACTOR = {1: 0.88, 2: 0.96, 3: 1.04, 4: 1.14}  # GB 3096 acoustic zone classes
PM_PROPERTIES = {"pm25", "pm10"}
STUCK_MINUTES = (20, 60)
DROPOUT_MINUTES = (10, 40)

Items = dict[str, list[dict[str, Any]]]  # thing key -> observation items
Sink = Callable[[Items], "Delivery"]


@dataclass
class Delivery:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    published: int = 0

    def add(self, other: Delivery) -> None:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.published += other.published


@dataclass
class _Stream:
    key: str
    thing_key: str
    prop: str
    interval: float
    valid_max: float | None
    value_type: str
    factor: float
    next_due: float = 0.0  # epoch seconds
    stuck_until: float = 0.0
    stuck_value: float = 0.0
    silent_until: float = 0.0


@dataclass
class Weather:
    """City-wide weather: wind (m/s) and rain, a slow random walk."""

    wind: float = 2.5
    raining: bool = False

    def step(self, rng: random.Random, minutes: float) -> None:
        self.wind = min(12.0, max(0.2, self.wind + rng.gauss(0, 0.15 * math.sqrt(max(minutes, 0.0)))))
        if rng.random() < minutes / (600 if self.raining else 1800):  # rain lasts hours, comes every day or so
            self.raining = not self.raining

    def pm_factor(self) -> float:
        return max(0.35, 1.35 - 0.09 * self.wind) * (0.65 if self.raining else 1.0)


@dataclass
class Simulator:
    """Produces the due readings at each moment; knows nothing of where they go."""

    streams: list[_Stream]
    rng: random.Random
    rate: float | None = None
    fault_rate: float = 0.0005
    weather: Weather = field(default_factory=Weather)
    _last: float | None = None

    @classmethod
    def from_registry(cls, session: Session, *, seed: int | None = None, rate: float | None = None,
                      fault_rate: float = 0.0005, start: datetime | None = None) -> Simulator:
        rows = session.execute(
            select(Datastream.key, Thing.key, ObservedProperty.name, Datastream.expected_interval_s,
                   Datastream.valid_max, Datastream.value_type, Thing.division_code)
            .join(Thing, Thing.id == Datastream.thing_id)
            .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
            .where(Thing.status == "active").order_by(Datastream.id)
        ).all()
        rng = random.Random(seed)
        begin = (start or datetime.now(UTC)).timestamp()
        streams = []
        for key, thing_key, prop, interval, valid_max, value_type, division in rows:
            if prop not in SIGNALS:
                continue
            local = random.Random(zlib.crc32(key.encode()))  # a device keeps its character across runs
            factor = local.uniform(0.8, 1.2)
            if prop == "noise_laeq":
                zone = local.choice((3, 4, 4, 2)) if division in CORE_DISTRICTS else local.choice((1, 2, 2, 3))
                factor = ZONE_FACTOR[zone] * local.uniform(0.95, 1.05)
            phase = random.Random(zlib.crc32(thing_key.encode())).uniform(0, float(interval))  # a thing reports at once
            streams.append(_Stream(key, thing_key, prop, float(interval), valid_max, value_type, factor,
                                   next_due=begin + phase))
        simulator = cls(streams, rng, rate=rate, fault_rate=fault_rate)
        if rate:  # spread the wanted rate over every stream evenly
            period = len(streams) / rate
            phases: dict[str, float] = {}
            for s in streams:
                s.interval = period
                s.next_due = begin + phases.setdefault(s.thing_key, rng.uniform(0, period))
        return simulator

    def natural_rate(self) -> float:
        return sum(1.0 / s.interval for s in self.streams)

    def due(self, now: datetime) -> Items:
        """Every reading due by ``now`` (time = now), grouped by thing."""
        t = now.timestamp()
        self.weather.step(self.rng, 0.0 if self._last is None else (t - self._last) / 60)
        self._last = t
        local_hour = (now.astimezone(UTC).hour + 8 + now.minute / 60) % 24
        stamp = now.astimezone(UTC).isoformat()
        out: Items = defaultdict(list)
        for s in self.streams:
            if s.next_due > t:
                continue
            s.next_due = max(s.next_due + s.interval, t + 0.001)
            if s.silent_until > t:
                continue
            value = self._value(s, local_hour, t)
            if value is None:
                continue
            out[s.thing_key].append({"datastream": s.key, "phenomenon_time": stamp, "result": value})
        return dict(out)

    def _value(self, s: _Stream, hour: float, t: float) -> float | int | bool | None:
        if s.stuck_until > t:
            value = s.stuck_value
        else:
            value = SIGNALS[s.prop](hour, self.rng, s.factor)
            if s.prop in PM_PROPERTIES:
                value *= self.weather.pm_factor()
            if self.rng.random() < self.fault_rate:
                fault = self.rng.choice(("stuck", "dropout", "spike"))
                if fault == "stuck":
                    s.stuck_until, s.stuck_value = t + 60 * self.rng.uniform(*STUCK_MINUTES), round(value, 3)
                elif fault == "dropout":
                    s.silent_until = t + 60 * self.rng.uniform(*DROPOUT_MINUTES)
                    return None
                elif s.valid_max is not None and s.value_type == "float":
                    value = s.valid_max * 3 + 1  # a glitch ingest must reject
        if s.value_type == "bool":
            return bool(value >= 0.5)
        if s.value_type == "int":
            return round(value)
        return round(value, 3)


def inprocess_sink(session_scope: Callable[[], AbstractContextManager[Session]], store: ObservationStore) -> Sink:
    """Deliver through ``ingest.ingest``, one call per thing with its device principal, one commit per tick.

    Few commits matter on SQLite: a console transaction that read before another commit cannot
    then write (WAL snapshot), so a feed committing per thing would make logins fail now and then.
    """

    def deliver(items: Items) -> Delivery:
        done = Delivery()
        if not items:
            return done
        with session_scope() as session:
            for thing_key, batch in items.items():
                report = ingest.ingest(session, store=store, principal=device_principal(thing_key), items=batch)
                done.add(Delivery(report.accepted, report.duplicate, report.rejected))
        return done

    return deliver


class MqttSink:
    """Publish each thing's readings as one JSON list to ``xc/ingest/<thing_key>/obs`` with QoS 1."""

    def __init__(self, url: str, client_id: str = "xc-simulator") -> None:
        target = parse_mqtt_url(url)
        self._client = Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.max_queued_messages_set(0)
        if target.username:
            self._client.username_pw_set(target.username, target.password)
        if target.tls:
            self._client.tls_set()
        self._client.connect(target.host, target.port)
        self._client.loop_start()

    def __call__(self, items: Items) -> Delivery:
        infos = [self._client.publish(f"xc/ingest/{thing_key}/obs", json.dumps(batch), qos=1)
                 for thing_key, batch in items.items()]
        for info in infos:
            info.wait_for_publish(timeout=10)
        return Delivery(published=sum(len(b) for b in items.values()))

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def run(simulator: Simulator, sink: Sink, *, seconds: float | None, tick: float = 1.0,
        stop: threading.Event | None = None) -> Iterator[Delivery]:
    """Emit due readings every ``tick`` seconds of wall time until ``seconds`` pass or ``stop`` is set."""
    stop = stop or threading.Event()
    deadline = None if seconds is None else clock.monotonic() + seconds
    while not stop.is_set() and (deadline is None or clock.monotonic() < deadline):
        started = clock.monotonic()
        try:
            delivered = sink(simulator.due(datetime.now(UTC)))
            log.debug("simulator tick: %d observations in %.2f s", delivered.accepted + delivered.published,
                     clock.monotonic() - started)
            yield delivered
        except Exception:  # a failed tick (a locked database, a broker hiccup) is logged; the feed goes on
            log.exception("simulator tick failed")
        stop.wait(max(0.0, tick - (clock.monotonic() - started)))


def replay(simulator: Simulator, sink: Sink, *, start: datetime, minutes: float, tick: float = 1.0) -> Delivery:
    """Drive the simulator over simulated time (tests, back-fill): no waiting between ticks."""
    total = Delivery()
    moment = start
    while moment < start + timedelta(minutes=minutes):
        total.add(sink(simulator.due(moment)))
        moment += timedelta(seconds=tick)
    return total
