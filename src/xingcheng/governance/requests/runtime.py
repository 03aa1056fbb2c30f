"""What the serving process runs for citizen requests: the router warm-up and the periodic SLA check."""

from __future__ import annotations

import logging
import threading

from xingcheng.core import heap
from xingcheng.core.db import get_database
from xingcheng.core.settings import get_settings
from xingcheng.governance.requests import service
from xingcheng.governance.requests.classifier import get_router

log = logging.getLogger("xingcheng.requests")
SLA_SECONDS = 300.0
WARM_UP_DELAY_SECONDS = 30.0
_stop = threading.Event()
_thread: threading.Thread | None = None


def sla_once() -> dict[str, int]:
    with get_database().session_scope() as session:
        return service.sla_tick(session)


def _run() -> None:
    # Train once in the background, so the first citizen does not wait for it; not right at start-up,
    # where it would compete with the server (and short-lived test apps) for the interpreter.
    if _stop.wait(WARM_UP_DELAY_SECONDS):
        return
    try:
        get_router()
        if get_settings().api.settle_heap:  # jieba's dictionary and the model live as long as the process
            heap.settle("training the request router")
    except Exception:
        log.exception("training the request router failed")
    while not _stop.wait(SLA_SECONDS):
        try:
            report = sla_once()
            if any(report.values()):
                log.info("request SLA check: %s", report)
        except Exception:  # one failed round (a locked database) must not end the loop
            log.exception("request SLA check failed")


def start() -> None:
    global _thread
    if _thread is None:
        _stop.clear()
        _thread = threading.Thread(target=_run, name="xc-requests-sla", daemon=True)
        _thread.start()


def stop() -> None:
    global _thread
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=1)
        _thread = None
