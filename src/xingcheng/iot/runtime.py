"""What the serving process runs for the sensing platform: the store, the MQTT ingest worker, the silent-sensor
sweep, daily retention and the daily data-quality report.

Absence of data never arrives with a batch, so silent-sensor rules are checked on a timer here
(every ``SWEEP_SECONDS``) instead of on ingest; everything else is evaluated on ingest. The previous
Beijing day's quality report is saved at ``QUALITY_REPORT_AT`` each morning, and a minute after start
when that day has no saved report yet (a server that was down at the hour catches up).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from datetime import time as time_of_day

from xingcheng.core.auth import SYSTEM
from xingcheng.core.db import get_database
from xingcheng.core.settings import get_settings
from xingcheng.iot import quality, rules, simulator
from xingcheng.iot.retention import apply_retention
from xingcheng.iot.store import close_store, get_store, open_store
from xingcheng.iot.worker import IngestWorker

log = logging.getLogger("xingcheng.iot")
SWEEP_SECONDS = 60.0
SIMULATE_TICK_SECONDS = 30.0  # the light feed commits once per tick (SQLite: few commits, few snapshot conflicts)
RETENTION_SECONDS = 24 * 3600.0  # roll-up and raw expiry once a day (first round a minute after start)
QUALITY_REPORT_AT = time_of_day(0, 30)  # Beijing time: yesterday is over and its late readings are mostly in
_stop = threading.Event()
_thread: threading.Thread | None = None
_worker: IngestWorker | None = None
_retention: threading.Thread | None = None
_feed: threading.Thread | None = None
_quality: threading.Thread | None = None


def sweep_once() -> int:
    with get_database().session_scope() as session:
        return rules.sweep_silent(session, store=get_store())


def _sweep_forever() -> None:
    while not _stop.wait(SWEEP_SECONDS):
        try:
            opened = sweep_once()
            if opened:
                log.info("silent-sensor sweep opened %d alert(s)", opened)
        except Exception:  # keep sweeping: one failed round (a locked database) must not end the loop
            log.exception("silent-sensor sweep failed")


def _simulate_forever(rate: float | None) -> None:
    """The light live feed (``XC_IOT__SIMULATE_IN_SERVE``): the demo city's sensors, time = now, in-process."""
    with get_database().session_scope() as session:
        feed = simulator.Simulator.from_registry(session, rate=rate)
    log.info("live simulator: %d datastreams, %.1f observations/s", len(feed.streams), feed.natural_rate())
    sink = simulator.inprocess_sink(get_database().session_scope, get_store())
    for delivered in simulator.run(feed, sink, seconds=None, tick=SIMULATE_TICK_SECONDS, stop=_stop):
        log.debug("live simulator: %d accepted, %d rejected", delivered.accepted, delivered.rejected)


def _retain_forever() -> None:
    wait = SWEEP_SECONDS
    while not _stop.wait(wait):
        wait = RETENTION_SECONDS
        try:
            report = apply_retention(get_store())
            if report.raw_deleted or report.rollup_deleted:
                log.info("retention: %d raw rows rolled into %d hourly buckets and deleted, %d roll-ups expired",
                         report.raw_deleted, report.hours_rolled_up, report.rollup_deleted)
        except Exception:  # try again tomorrow; the data simply stays a day longer
            log.exception("observation retention failed")


def save_quality_report(day: date | None = None, *, only_missing: bool = False) -> bool:
    """Save ``day``'s city quality report (default: yesterday, Beijing); False when skipped as already saved."""
    wanted = day or quality.today() - timedelta(days=1)
    with get_database().session_scope() as session:
        if only_missing and quality.is_saved(session, wanted):
            return False
        quality.save_daily_report(session, store=get_store(), day=wanted, actor=SYSTEM)
    return True


def seconds_until_quality_report(now: datetime | None = None) -> float:
    """Seconds from ``now`` to the next ``QUALITY_REPORT_AT`` in Beijing time."""
    moment = (now or datetime.now(quality.CITY_TZ)).astimezone(quality.CITY_TZ)
    due = datetime.combine(moment.date(), QUALITY_REPORT_AT, quality.CITY_TZ)
    if due <= moment:
        due = datetime.combine(moment.date() + timedelta(days=1), QUALITY_REPORT_AT, quality.CITY_TZ)
    return (due - moment).total_seconds()


def _report_quality_forever() -> None:
    wait, only_missing = SWEEP_SECONDS, True  # the first round catches up on a missed day, never redoes one
    while not _stop.wait(wait):
        try:
            if save_quality_report(only_missing=only_missing):
                log.info("saved the data-quality report of %s", quality.today() - timedelta(days=1))
        except Exception:  # keep the schedule: tomorrow's round (or the console's button) saves it
            log.exception("daily data-quality report failed")
        wait, only_missing = seconds_until_quality_report(), False


def start() -> None:
    global _thread, _worker, _retention, _feed, _quality
    store = open_store()
    settings = get_settings()
    # Embedded mode: the store belongs to this process, so the MQTT ingest worker runs here too.
    if settings.mqtt_url and settings.iot.embedded_worker and _worker is None:
        _worker = IngestWorker(settings.mqtt_url, client_id=settings.iot.worker_id, database=get_database(),
                               store=store, group=settings.iot.worker_group, batch_size=settings.iot.worker_batch_size)
        _worker.start(wait_subscribed=0)
    if _thread is None:
        _stop.clear()
        _thread = threading.Thread(target=_sweep_forever, name="xc-iot-silent-sweep", daemon=True)
        _thread.start()
    if _retention is None:
        _retention = threading.Thread(target=_retain_forever, name="xc-iot-retention", daemon=True)
        _retention.start()
    if _quality is None:
        _quality = threading.Thread(target=_report_quality_forever, name="xc-iot-quality-report", daemon=True)
        _quality.start()
    if settings.iot.simulate_in_serve and _feed is None:
        _feed = threading.Thread(target=_simulate_forever, args=(settings.iot.simulate_rate,),
                                 name="xc-iot-simulator", daemon=True)
        _feed.start()


def stop() -> None:
    global _thread, _worker, _retention, _feed, _quality
    _stop.set()
    if _feed is not None:
        _feed.join(timeout=10)
        _feed = None
    if _worker is not None:
        _worker.stop()
        _worker = None
    if _thread is not None:
        _thread.join(timeout=5)
        _thread = None
    if _retention is not None:
        _retention.join(timeout=5)
        _retention = None
    if _quality is not None:
        _quality.join(timeout=5)
        _quality = None
    close_store()
