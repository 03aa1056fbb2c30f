"""Push subscriptions: masked rows reach the consumer's topic on the in-process bus and on the real Mosquitto,
and Parquet files land under the data dir with the hash the ledger holds."""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from exchange_testing import ID_A, PURPOSE, dataset_body
from sqlalchemy import select

from _services import require_tcp
from xingcheng.core.audit.models import AuditEntry
from xingcheng.core.auth import Principal
from xingcheng.core.db import utcnow
from xingcheng.core.events import Delivery, EventBus, InProcessBus
from xingcheng.core.outbox import current_bus, set_bus
from xingcheng.core.settings import get_settings
from xingcheng.datahub.catalog import service as catalog
from xingcheng.datahub.catalog.schemas import DatasetCreate
from xingcheng.datahub.catalog.storage import arrow_schema
from xingcheng.datahub.exchange import flows, service
from xingcheng.datahub.exchange.schemas import RequestApprove, RequestCreate

OWNER = Principal(kind="staff", name="gaj-officer", roles=frozenset({"department_staff"}), department_code="gaj")
CONSUMER = Principal(kind="staff", name="xzsp-clerk", roles=frozenset({"department_staff"}), department_code="xzsp")


def _rows(session, dataset, start: int, count: int) -> None:  # type: ignore[no-untyped-def]
    fields = catalog.current_fields(session, dataset)
    table = pa.table({"id_number": [ID_A] * count, "name": [f"张{i}" for i in range(start, start + count)],
                      "phone": [f"138{i:08d}" for i in range(start, start + count)],
                      "address": ["长沙市岳麓区麓山南路1号"] * count, "division_code": ["430104"] * count},
                     schema=arrow_schema(fields))
    catalog.append_table(session, dataset=dataset, table=table, actor=OWNER, source="test")


def _approved(session, name: str):  # type: ignore[no-untyped-def]
    body = dataset_body()
    body["name"] = name
    dataset = catalog.create_dataset(session, data=DatasetCreate.model_validate(body), creator=OWNER)
    _rows(session, dataset, 0, 3)
    request = service.create_request(session, requester=CONSUMER, data=RequestCreate(
        dataset=dataset.slug, fields=["id_number", "name"], purpose=PURPOSE, legal_basis="测试依据",
        requested_until=utcnow() + timedelta(days=30)))
    service.approve(session, request_id=request.id, approver=OWNER, data=RequestApprove())
    return dataset, request


class Inbox:
    def __init__(self) -> None:
        self.items: list[Delivery] = []
        self.ready = threading.Condition()

    def __call__(self, delivery: Delivery) -> None:
        with self.ready:
            self.items.append(delivery)
            self.ready.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        with self.ready:
            assert self.ready.wait_for(lambda: len(self.items) >= count, timeout), self.items
            return list(self.items)


@pytest.fixture
def bus_swap():  # type: ignore[no-untyped-def]
    previous = current_bus()

    def install(bus: EventBus) -> EventBus:
        set_bus(bus)
        return bus

    yield install
    set_bus(previous)


def _push_and_check(db, bus: EventBus, inbox: Inbox, name: str) -> None:  # type: ignore[no-untyped-def]
    dataset, request = _approved(db, name)
    subscription = flows.subscribe(db, request_id=request.id, consumer=CONSUMER, channel="event")
    result = flows.run_subscription(db, subscription=subscription)
    assert result["status"] == "delivered" and result["records"] == 3
    db.commit()  # events leave only after the commit
    got = inbox.wait(1)
    event = next(d for d in got if d.event.data["request_id"] == request.id)
    assert event.topic == "xc/events/exchange/delivery/xzsp"
    data = event.event.data
    assert data["items"][0] == {"id_number": ID_A[:6] + "********" + ID_A[-4:], "name": "张*", "division_code": "430104"}
    assert data["fields"]["phone"] == "withheld" and data["records"] == 3
    text = hashlib.sha256(flows.rows.canonical_bytes(data["items"])).hexdigest()
    assert data["content_hash"] == text
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.content_hash == bytes.fromhex(text))) is not None
    # Nothing new: nothing sent. New rows: only they are sent.
    assert flows.run_subscription(db, subscription=subscription)["status"] == "up_to_date"
    _rows(db, dataset, 3, 2)
    again = flows.run_subscription(db, subscription=subscription)
    assert again["records"] == 2
    db.commit()
    later = [d for d in inbox.wait(2) if d.event.data["request_id"] == request.id]
    assert [i["name"] for i in later[-1].event.data["items"]] == ["张*", "张*"] and len(later) == 2
    # Revocation stops the push at once.
    service.revoke(db, request_id=request.id, revoker=OWNER, reason="停止共享")
    subscription.active = True  # even if someone re-activated it, the grant check refuses
    refused = flows.run_subscription(db, subscription=subscription)
    assert refused["status"] == "refused" and "停止共享" in refused["detail"]


def test_push_over_the_in_process_bus(db, bus_swap):
    bus = bus_swap(InProcessBus())
    inbox = Inbox()
    bus.subscribe("xc/events/exchange/delivery/xzsp", inbox)
    _push_and_check(db, bus, inbox, "push-in-process")


def test_push_over_mosquitto(db, bus_swap):
    require_tcp("Mosquitto", "127.0.0.1", 1883)
    from xingcheng.core.events import MqttBus

    tag = uuid.uuid4().hex[:8]
    subscriber = MqttBus("mqtt://127.0.0.1:1883", client_id=f"xc-test-exchange-sub-{tag}", session_expiry=0)
    publisher = MqttBus("mqtt://127.0.0.1:1883", client_id=f"xc-test-exchange-pub-{tag}", session_expiry=0)
    try:
        inbox = Inbox()
        subscriber.subscribe("xc/events/exchange/delivery/xzsp", inbox)
        assert subscriber.wait_connected(5) and subscriber.wait_subscribed(5)
        assert publisher.wait_connected(5)
        bus_swap(publisher)
        _push_and_check(db, publisher, inbox, f"push-mqtt-{tag}")
    finally:
        publisher.close()
        subscriber.close()


def test_push_as_parquet_file(db):
    _, request = _approved(db, "push-file")
    subscription = flows.subscribe(db, request_id=request.id, consumer=CONSUMER, channel="file")
    result = flows.run_subscription(db, subscription=subscription)
    assert result["status"] == "delivered" and result["records"] == 3 and result["deliveries"] == 1
    log = service.list_deliveries(db, viewer=CONSUMER, page=service.PageParams(), request_id=request.id)[0][0]
    path = get_settings().data_dir / str(log.file)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == log.content_hash and log.size_bytes == path.stat().st_size
    table = pq.read_table(path)
    assert table.column_names == ["id_number", "name", "division_code"]
    assert table.column("id_number")[0].as_py() == ID_A[:6] + "********" + ID_A[-4:]
    proof = service.verify(db, content_hash=log.content_hash)
    assert proof["valid"] and proof["delivery"].id == log.id
    with pytest.raises(service.Conflict):
        flows.subscribe(db, request_id=request.id, consumer=CONSUMER, channel="file")
