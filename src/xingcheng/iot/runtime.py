"""What the serving process runs for the sensing platform: the store, the MQTT ingest worker, the silent-sensor sweep.

Absence of data never arrives with a batch, so silent-sensor rules are checked on a timer here
(every ``SWEEP_SECONDS``) instead of on ingest; everything else is evaluated on ingest.
"""

from __future__ import annotations

import logging
import threading

from xingcheng.core.db import get_database
from xingcheng.core.settings import get_settings
from xingcheng.iot import rules
from xingcheng.iot.store import close_store, get_store, open_store
from xingcheng.iot.worker import IngestWorker

log = logging.getLogger("xingcheng.iot")
SWEEP_SECONDS = 60.0
_stop = threading.Event()
_thread: threading.Thread | None = None
_worker: IngestWorker | None = None


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


def start() -> None:
    global _thread, _worker
    store = open_store()
    settings = get_settings()
    # Embedded mode: the store belongs to this process, so the MQTT ingest worker runs here too.
    if settings.mqtt_url and settings.iot.embedded_worker and _worker is None:
        _worker = IngestWorker(settings.mqtt_url, client_id=settings.iot.worker_id, database=get_database(),
                               store=store, batch_size=settings.iot.worker_batch_size)
        _worker.start(wait_subscribed=0)
    if _thread is None:
        _stop.clear()
        _thread = threading.Thread(target=_sweep_forever, name="xc-iot-silent-sweep", daemon=True)
        _thread.start()


def stop() -> None:
    global _thread, _worker
    _stop.set()
    if _worker is not None:
        _worker.stop()
        _worker = None
    if _thread is not None:
        _thread.join(timeout=5)
        _thread = None
    close_store()
