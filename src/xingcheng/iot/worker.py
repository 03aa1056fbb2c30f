"""The MQTT ingest worker: devices publish to ``xc/ingest/<device_key>/obs``, workers share the load.

Delivery guarantees (what operators can rely on)
------------------------------------------------
- Each worker subscribes through the shared subscription ``$share/xc-ingest/xc/ingest/+/obs``
  with QoS 1, so N workers split the devices' messages between them.
- Each worker has a **stable client id** and a **persistent session** (clean start off, session
  expiry ``SESSION_EXPIRY`` seconds) and acknowledges a message (paho ``manual_ack``) only after
  the batch it belongs to is durably written: observations in the store *and* the audit entry
  committed. A worker that dies before that leaves the message unacknowledged.
- Mosquitto keeps a dead shared subscriber's in-flight messages for **that same client id**
  rather than handing them to the other members of the group: restart the worker under the same
  id (a process supervisor does) and it receives them again. Workers that never come back hold
  their in-flight messages until the session expires; give each worker slot a fixed id
  (``xc-ingest-1``, ``xc-ingest-2`` …), never a random one.
- Each worker asks for an in-flight window of ``2 × batch_size`` messages (MQTT v5 Receive Maximum):
  without it Mosquitto sends only ``max_inflight_messages`` (default 20) unacknowledged messages, and
  a batch acknowledged after its write could never grow past 20 messages.
- Beyond the in-flight window the broker queues at most ``max_queued_messages`` per session (Mosquitto
  default 1,000) and **drops** the rest ("Outgoing messages are being dropped" in its log) — while the
  publisher has its PUBACK. Size it for the backlog the workers may fall behind by (``0`` = unlimited,
  bounded by memory), or loss happens in the broker, before any worker sees the message.
- Redelivery makes this at-least-once; the store's idempotency on (datastream, phenomenon time)
  makes it exactly-once in effect: a redelivered observation is reported as a duplicate.

Messages: a JSON object ``{"datastream", "phenomenon_time", "result"}``, a JSON list of those,
``{"observations": [...]}`` or NDJSON. The device is the one named in the topic: the broker's
ACL must let a device publish only under its own key (Mosquitto ``pattern write
xc/ingest/%u/obs`` with the device key as username). Per-batch results go back to the device
on ``xc/ingest/<device_key>/result`` (QoS 0) so it can see what was rejected and why.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from xingcheng.core.auth import Principal, Role
from xingcheng.core.db import Database
from xingcheng.core.events import parse_mqtt_url
from xingcheng.iot import ingest
from xingcheng.iot.store import ObservationStore

log = logging.getLogger("xingcheng.iot.worker")
SHARE_GROUP = "xc-ingest"
INGEST_FILTER = "xc/ingest/+/obs"
SESSION_EXPIRY = 24 * 3600  # a worker may be down this long without losing its in-flight messages
IDLE_SECONDS = 0.05  # a pause this long in arriving messages ends a batch early


def shared_filter(group: str = SHARE_GROUP) -> str:
    return f"$share/{group}/{INGEST_FILTER}"


def parse_message(payload: bytes | bytearray) -> list[Any]:
    """The observation items of one message; an unparsable payload is one malformed item (reported, acked)."""
    text = payload.decode("utf-8", errors="replace").strip()
    if not text:
        return [None]
    try:
        data = json.loads(text)
    except ValueError:
        items: list[Any] = []
        for line in text.splitlines():  # NDJSON: one item per line, a bad line is one bad item
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    items.append(None)
        return items
    if isinstance(data, dict) and isinstance(data.get("observations"), list):
        return list(data["observations"])
    return list(data) if isinstance(data, list) else [data]


@lru_cache(maxsize=100_000)  # one frozen Principal per device, not one per device per batch
def device_principal(device_key: str) -> Principal:
    return Principal(kind="device", name=f"device:{device_key}", roles=frozenset({Role.DEVICE}), device_key=device_key)


@dataclass
class WorkerStats:
    messages: int = 0
    batches: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    write_failures: int = 0
    by_device: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Received:
    mid: int
    qos: int
    device_key: str
    items: list[Any]


class IngestWorker:
    """One member of the ingest group: receive, batch, write durably, then acknowledge."""

    def __init__(
        self, mqtt_url: str, *, client_id: str, database: Database, store: ObservationStore,
        group: str = SHARE_GROUP, batch_size: int = 5000, flush_seconds: float = 0.25,
        on_batch: Callable[[WorkerStats], None] | None = None,
    ) -> None:
        self._url = parse_mqtt_url(mqtt_url)
        self.client_id = client_id
        self._database = database
        self._store = store
        self._group = group
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._on_batch = on_batch
        self._inbox: queue.Queue[_Received] = queue.Queue()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = WorkerStats()
        self._client = Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True,
        )
        if self._url.username:
            self._client.username_pw_set(self._url.username, self._url.password)
        if self._url.tls:
            self._client.tls_set()
        # Without Receive Maximum, Mosquitto sends a v5 client only ``max_inflight_messages`` (20) unacked
        # messages: with acks after the write, a batch could never hold more than 20 messages.
        self.receive_maximum = min(65_535, max(100, 2 * batch_size))
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # ---- MQTT callbacks (paho's network thread) ----------------------------------------------

    def _on_connect(self, client: Client, _userdata: Any, flags: ConnectFlags, reason: ReasonCode,
                    _properties: Properties | None) -> None:
        if reason.is_failure:
            log.warning("ingest worker %s: broker refused the connection: %s", self.client_id, reason)
            return
        # A resumed session keeps its subscription; subscribing again is harmless and covers a lost session.
        client.subscribe(f"$share/{self._group}/{INGEST_FILTER}", qos=1)
        self._subscribed.set()
        log.info("ingest worker %s connected (session present: %s)", self.client_id, flags.session_present)

    def _on_disconnect(self, _client: Client, _userdata: Any, _flags: DisconnectFlags, reason: ReasonCode,
                       _properties: Properties | None) -> None:
        if not self._stop.is_set():
            log.warning("ingest worker %s disconnected (%s); reconnecting", self.client_id, reason)

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        parts = message.topic.split("/")
        device_key = parts[2] if len(parts) == 4 else ""
        self._inbox.put(_Received(message.mid, message.qos, device_key, parse_message(message.payload)))

    # ---- the write loop (the worker's own thread) --------------------------------------------

    def _collect(self) -> list[_Received]:
        """Up to ``batch_size`` observations: until full, ``flush_seconds`` after the first, or a quiet gap."""
        try:
            first = self._inbox.get(timeout=self._flush_seconds)
        except queue.Empty:
            return []
        batch, count = [first], len(first.items)
        deadline = time.monotonic() + self._flush_seconds
        while count < self._batch_size:
            # A gap of IDLE_SECONDS means the broker has nothing more for us right now (or its in-flight
            # window is full until we ack): write what we have instead of sitting out the deadline.
            try:
                item = self._inbox.get(timeout=min(IDLE_SECONDS, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
            batch.append(item)
            count += len(item.items)
        return batch

    def _write(self, batch: list[_Received]) -> None:
        """Ingest each device's items (its own datastreams only) and commit; raises when nothing may be acked."""
        by_device: dict[str, list[Any]] = defaultdict(list)
        for received in batch:
            by_device[received.device_key].extend(received.items)
        writers = [(device_key, items) for device_key, items in by_device.items() if device_key]
        with self._database.session_scope() as session:  # one lookup, one store append, one rules pass for all devices
            found = ingest.ingest_many(session, store=self._store, itemised=False,
                                       batches=[(device_principal(key), items) for key, items in writers])
        reports = {key: report for (key, _), report in zip(writers, found, strict=True)}
        for device_key, report in reports.items():
            self.stats.accepted += report.accepted
            self.stats.duplicate += report.duplicate
            self.stats.rejected += report.rejected
            self.stats.by_device[device_key] = self.stats.by_device.get(device_key, 0) + report.accepted
            rejected = [item.model_dump(exclude_none=True) for item in report.items[:100]]  # only rejected ones
            self._client.publish(f"xc/ingest/{device_key}/result", json.dumps({
                "accepted": report.accepted, "duplicate": report.duplicate, "rejected": report.rejected,
                "rejections": rejected,
            }), qos=0)

    def _run(self) -> None:
        while not self._stop.is_set() or not self._inbox.empty():
            batch = self._collect()
            if not batch:
                continue
            backoff = 0.5
            while True:
                try:
                    self._write(batch)
                    break
                except Exception:  # the batch stays unacknowledged and is retried; nothing is dropped
                    self.stats.write_failures += 1
                    log.exception("ingest worker %s: writing a batch of %d messages failed; retrying in %.1f s",
                                  self.client_id, len(batch), backoff)
                    if self._stop.wait(backoff):
                        return  # shutting down: the broker redelivers the unacked messages to our next session
                    backoff = min(backoff * 2, 30.0)
            for received in batch:  # durable now: only now may the broker forget these messages
                self._client.ack(received.mid, received.qos)
            self.stats.messages += len(batch)
            self.stats.batches += 1
            if self._on_batch is not None:
                self._on_batch(self.stats)

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, *, wait_subscribed: float = 10.0) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_EXPIRY
        properties.ReceiveMaximum = self.receive_maximum
        self._client.connect_async(self._url.host, self._url.port, keepalive=30, clean_start=False,
                                   properties=properties)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name=f"xc-ingest-{self.client_id}", daemon=True)
        self._thread.start()
        if wait_subscribed and not self._subscribed.wait(wait_subscribed):
            log.warning("ingest worker %s: not connected to the broker yet; it keeps trying", self.client_id)

    def stop(self) -> None:
        """Finish and acknowledge what was received, then disconnect (the session stays on the broker)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._client.disconnect()
        self._client.loop_stop()

    def run_forever(self) -> None:
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=1.0)
        finally:
            self.stop()
