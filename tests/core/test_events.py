"""Event envelope, topic rules and the in-process bus (no broker needed)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xingcheng.core.events import (
    Delivery,
    Event,
    InProcessBus,
    MqttUrl,
    create_bus,
    event_topic,
    parse_mqtt_url,
    topic_matches,
)


def make_event(**data: object) -> Event:
    return Event(type="xingcheng.test.thing.happened", source="/tests", data=dict(data))


# -- envelope ---------------------------------------------------------------------------------


def test_event_defaults() -> None:
    before = datetime.now(UTC)
    event = make_event()
    assert re.fullmatch(r"[0-9a-f]{32}", event.id)
    assert event.time.tzinfo is not None
    assert event.time.utcoffset() == timedelta(0)
    assert before <= event.time <= datetime.now(UTC)
    assert event.subject is None
    assert event.data == {}
    assert make_event().id != event.id


def test_event_json_has_exactly_the_envelope_attributes() -> None:
    event = Event(
        type="xingcheng.iot.alert.opened",
        source="/iot",
        subject="device/42",
        time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        data={"level": 3, "tags": ["a", "b"], "nested": {"x": None}},
    )
    doc = json.loads(event.to_json())
    assert set(doc) == {"id", "type", "time", "source", "subject", "data"}
    assert doc["time"] == "2025-01-02T03:04:05Z"
    assert Event.from_json(event.to_json()) == event


def test_event_time_is_normalised_to_utc() -> None:
    local = datetime(2025, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    event = Event(type="t", source="s", time=local)
    assert event.time == local
    assert event.time.utcoffset() == timedelta(0)
    assert event.time.hour == 0


def test_event_rejects_extra_fields_naive_time_and_empty_type() -> None:
    with pytest.raises(ValueError, match="extra"):
        Event(type="t", source="s", headers={})  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="timezone"):
        Event(type="t", source="s", time=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="at least 1 character"):
        Event(type="", source="s")


def test_event_is_immutable() -> None:
    event = make_event()
    with pytest.raises(ValueError, match="frozen"):
        event.type = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"", "Invalid JSON"),
        (b"not json", "Invalid JSON"),
        (b"\xff\xfe\x00", "Invalid JSON"),
        (b"[1, 2]", "object"),
        (b"{}", "type: Field required"),
        (b'{"type": "t", "source": "s", "colour": "red"}', "colour"),
        (b'{"type": "t", "source": "s", "time": "2025-01-01T00:00:00"}', "time"),
        (b'{"type": "t", "source": "s", "data": [1]}', "data"),
    ],
)
def test_from_json_rejects_bad_payloads_clearly(raw: bytes, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid event envelope: ") as info:
        Event.from_json(raw)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# -- topics -----------------------------------------------------------------------------------


def test_event_topic() -> None:
    assert event_topic("iot", "alert") == "xc/events/iot/alert"


@pytest.mark.parametrize(
    ("area", "event"), [("", "x"), ("iot", ""), ("a/b", "x"), ("+", "x"), ("iot", "#")]
)
def test_event_topic_rejects_bad_levels(area: str, event: str) -> None:
    with pytest.raises(ValueError, match="topic level"):
        event_topic(area, event)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("xc/events/iot/alert", "xc/events/iot/alert", True),
        ("xc/events/iot/alert", "xc/events/iot/alerts", False),
        ("xc/events/iot/alert", "xc/events/iot", False),
        ("xc/events/+/alert", "xc/events/iot/alert", True),
        ("xc/events/+/alert", "xc/events/iot/x/alert", False),
        ("xc/ingest/+/obs", "xc/ingest/dev-1/obs", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("+/b", "/b", True),  # '+' matches an empty level
        ("xc/events/#", "xc/events/iot/alert", True),
        ("xc/events/#", "xc/events", True),  # '#' includes the parent level
        ("xc/events/#", "xc/eventsx", False),
        ("#", "anything/at/all", True),
        ("$share/xc-ingest/xc/ingest/+/obs", "xc/ingest/dev-1/obs", True),
        ("$share/xc-ingest/xc/ingest/+/obs", "xc/ingest/dev-1/raw", False),
        ("$share/g/#", "a", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/broker/uptime", "$SYS/broker/uptime", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
        ("$SYS/+/uptime", "$SYS/broker/uptime", True),
    ],
)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


@pytest.mark.parametrize(
    "pattern", ["", "a/#/b", "a/b#", "a+/b", "$share/g", "$share//a", "$share/g+/a", "$share/g/"]
)
def test_topic_matches_rejects_invalid_patterns(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        topic_matches(pattern, "a/b")


@pytest.mark.parametrize("topic", ["", "a/+", "a/#"])
def test_topic_matches_rejects_invalid_topics(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        topic_matches("#", topic)


def reference_matches(pattern: str, topic: str) -> bool:
    """Independent oracle: translate the filter into a regular expression."""
    if pattern.startswith("$share/"):
        pattern = pattern.split("/", 2)[2]
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    levels = pattern.split("/")
    tail = ""
    if levels[-1] == "#":
        levels.pop()
        tail = "(/.*)?" if levels else ".*"
    regex = "/".join("[^/]*" if level == "+" else re.escape(level) for level in levels) + tail
    return re.fullmatch(regex, topic, flags=re.DOTALL) is not None


TOPIC_LEVEL = st.sampled_from(["a", "b", "", "$x", "ab"])
topic_levels = st.lists(TOPIC_LEVEL, min_size=1, max_size=4).filter(lambda ls: "/".join(ls) != "")
topic_names = topic_levels.map("/".join)


def _share(draw: st.DrawFn, pattern: str) -> str:
    if draw(st.booleans()):
        return f"$share/{draw(st.sampled_from(['g', 'xc-ingest']))}/{pattern}"
    return pattern


@st.composite
def random_patterns(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.sampled_from(["a", "b", "", "+", "$x"]), max_size=4))
    if draw(st.booleans()) or not levels:
        levels = [*levels, "#"]
    return _share(draw, "/".join(levels) or "+")


@st.composite
def pattern_and_topic(draw: st.DrawFn) -> tuple[str, str]:
    """A topic and a filter derived from it, so that matches (and near misses) are common."""
    levels = draw(topic_levels)
    filt = [draw(st.sampled_from([level, level, "+", "a"])) for level in levels]
    if draw(st.booleans()):
        filt = [*filt[: draw(st.integers(0, len(filt)))], "#"]
    elif draw(st.booleans()):
        filt = [*filt, draw(st.sampled_from(["", "+", "a"]))]
    return _share(draw, "/".join(filt) or "+"), "/".join(levels)


@given(pattern=random_patterns(), topic=topic_names)
def test_topic_matches_agrees_with_reference(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic) is reference_matches(pattern, topic)


@given(case=pattern_and_topic())
def test_topic_matches_agrees_with_reference_on_derived_patterns(case: tuple[str, str]) -> None:
    pattern, topic = case
    assert topic_matches(pattern, topic) is reference_matches(pattern, topic)


@given(topic=topic_names)
def test_every_topic_matches_itself_unless_reserved(topic: str) -> None:
    assert topic_matches(topic, topic)
    assert topic_matches("#", topic) is (not topic.startswith("$"))


# -- in-process bus ---------------------------------------------------------------------------


class Recorder:
    """A handler that records deliveries."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    @property
    def topics(self) -> list[str]:
        return [d.topic for d in self.deliveries]


def test_exact_subscription_receives_event_and_headers() -> None:
    bus = InProcessBus()
    rec = Recorder()
    bus.subscribe("xc/events/iot/alert", rec)
    event = make_event(level=2)
    bus.publish("xc/events/iot/alert", event, headers={"traceparent": "00-abc-01"})
    bus.publish("xc/events/iot/other", make_event())
    assert rec.topics == ["xc/events/iot/alert"]
    delivery = rec.deliveries[0]
    assert delivery.event == event
    assert dict(delivery.headers) == {"traceparent": "00-abc-01"}
    assert isinstance(delivery, Delivery)


def test_headers_default_to_empty_and_are_read_only() -> None:
    bus = InProcessBus()
    rec = Recorder()
    bus.subscribe("#", rec)
    bus.publish("a", make_event())
    assert dict(rec.deliveries[0].headers) == {}
    with pytest.raises(TypeError):
        rec.deliveries[0].headers["x"] = "y"  # type: ignore[index]


def test_wildcard_and_shared_subscriptions() -> None:
    bus = InProcessBus()
    plus, hash_, share, everything = Recorder(), Recorder(), Recorder(), Recorder()
    bus.subscribe("xc/events/+/alert", plus)
    bus.subscribe("xc/events/iot/#", hash_)
    bus.subscribe("$share/xc-ingest/xc/ingest/+/obs", share)
    bus.subscribe("#", everything)
    topics = [
        "xc/events/iot/alert",
        "xc/events/env/alert",
        "xc/events/iot/device/offline",
        "xc/ingest/dev-1/obs",
        "xc/ingest/dev-1/raw",
    ]
    for topic in topics:
        bus.publish(topic, make_event())
    assert plus.topics == ["xc/events/iot/alert", "xc/events/env/alert"]
    assert hash_.topics == ["xc/events/iot/alert", "xc/events/iot/device/offline"]
    assert share.topics == ["xc/ingest/dev-1/obs"]
    assert everything.topics == topics


def test_shared_subscription_delivers_to_one_member_in_turn() -> None:
    bus = InProcessBus()
    first, second, other_group = Recorder(), Recorder(), Recorder()
    bus.subscribe("$share/workers/xc/ingest/+/obs", first)
    bus.subscribe("$share/workers/xc/ingest/+/obs", second)
    bus.subscribe("$share/audit/xc/ingest/+/obs", other_group)
    for i in range(6):
        bus.publish(f"xc/ingest/dev-{i}/obs", make_event())
    assert len(first.deliveries) == len(second.deliveries) == 3
    assert set(first.topics).isdisjoint(second.topics)
    assert len(other_group.deliveries) == 6


def test_cancel_stops_delivery_and_is_idempotent() -> None:
    bus = InProcessBus()
    kept, cancelled = Recorder(), Recorder()
    bus.subscribe("a/+", kept)
    sub = bus.subscribe("a/+", cancelled)
    bus.publish("a/1", make_event())
    sub.cancel()
    sub.cancel()
    assert not sub.active
    bus.publish("a/2", make_event())
    assert kept.topics == ["a/1", "a/2"]
    assert cancelled.topics == ["a/1"]


def test_subscription_as_context_manager() -> None:
    bus = InProcessBus()
    rec = Recorder()
    with bus.subscribe("a", rec):
        bus.publish("a", make_event())
    bus.publish("a", make_event())
    assert len(rec.deliveries) == 1


def test_cancel_from_inside_a_handler_stops_later_handlers_of_same_publish() -> None:
    bus = InProcessBus()
    rec = Recorder()
    victim = None

    def canceller(_: Delivery) -> None:
        assert victim is not None
        victim.cancel()

    bus.subscribe("a", canceller)
    victim = bus.subscribe("a", rec)
    bus.publish("a", make_event())
    assert rec.deliveries == []


def test_failing_handler_is_logged_and_isolated(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus()
    before, after = Recorder(), Recorder()

    def broken(_: Delivery) -> None:
        raise RuntimeError("boom")

    bus.subscribe("a", before)
    bus.subscribe("a", broken)
    bus.subscribe("a", after)
    event = make_event()
    with caplog.at_level(logging.ERROR, logger="xingcheng.events"):
        bus.publish("a", event)  # must not raise
    assert len(before.deliveries) == len(after.deliveries) == 1
    [record] = [r for r in caplog.records if r.name == "xingcheng.events"]
    assert record.levelno == logging.ERROR
    assert event.id in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


def test_each_handler_gets_its_own_copy() -> None:
    bus = InProcessBus()
    seen: list[dict[str, object]] = []

    def mutator(delivery: Delivery) -> None:
        delivery.event.data["items"].append("mutated")

    bus.subscribe("a", mutator)
    bus.subscribe("a", lambda d: seen.append(dict(d.event.data)))
    event = make_event(items=["original"])
    bus.publish("a", event)
    assert seen == [{"items": ["original"]}]
    assert event.data == {"items": ["original"]}


def test_data_is_delivered_as_json_would_carry_it() -> None:
    bus = InProcessBus()
    rec = Recorder()
    bus.subscribe("a", rec)
    when = datetime(2025, 5, 1, tzinfo=UTC)
    bus.publish("a", make_event(when=when, pair=(1, 2)))
    assert rec.deliveries[0].event.data == {"when": "2025-05-01T00:00:00Z", "pair": [1, 2]}
    with pytest.raises(ValueError, match="serialize"):
        bus.publish("a", make_event(unserialisable=object()))
    assert len(rec.deliveries) == 1


def test_handler_may_publish_and_subscribe_reentrantly() -> None:
    bus = InProcessBus()
    rec = Recorder()

    def relay(delivery: Delivery) -> None:
        bus.subscribe("late", rec)
        bus.publish("relayed", make_event(origin=delivery.topic))

    bus.subscribe("orig", relay)
    bus.subscribe("relayed", rec)
    bus.publish("orig", make_event())
    assert rec.topics == ["relayed"]
    bus.publish("late", make_event())
    assert rec.topics == ["relayed", "late"]


@pytest.mark.parametrize("topic", ["", "a/+", "a/#", "$SYS/x"])
def test_publish_rejects_invalid_topics(topic: str) -> None:
    with pytest.raises(ValueError, match="topic"):
        InProcessBus().publish(topic, make_event())


def test_subscribe_rejects_invalid_patterns_and_publish_bad_headers() -> None:
    bus = InProcessBus()
    with pytest.raises(ValueError, match="last level"):
        bus.subscribe("a/#/b", Recorder())
    with pytest.raises(TypeError):
        bus.publish("a", make_event(), headers={"n": 1})  # type: ignore[dict-item]


def test_close_cancels_subscriptions_and_refuses_further_use() -> None:
    bus = InProcessBus()
    rec = Recorder()
    sub = bus.subscribe("a", rec)
    bus.close()
    assert not sub.active
    with pytest.raises(RuntimeError):
        bus.publish("a", make_event())
    with pytest.raises(RuntimeError):
        bus.subscribe("a", rec)
    assert rec.deliveries == []


def test_concurrent_subscribe_cancel_and_publish() -> None:
    bus = InProcessBus()
    steady = Recorder()
    bus.subscribe("load/+", steady)
    errors: list[BaseException] = []
    publishes_per_thread = 300

    def publisher() -> None:
        try:
            for i in range(publishes_per_thread):
                bus.publish(f"load/{i}", make_event())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def churner() -> None:
        try:
            for _ in range(300):
                bus.subscribe("load/#", lambda _d: None).cancel()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publisher) for _ in range(3)]
    threads += [threading.Thread(target=churner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # list.append is atomic, so every publish reached the steady subscriber exactly once.
    assert len(steady.deliveries) == 3 * publishes_per_thread


def test_create_bus_without_url_is_in_process() -> None:
    assert isinstance(create_bus(None, client_id="x"), InProcessBus)
    assert isinstance(create_bus("", client_id="x"), InProcessBus)


def test_in_process_mode_does_not_import_paho() -> None:
    code = (
        "import sys\n"
        "from xingcheng.core.events import create_bus, Event\n"
        "bus = create_bus(None, client_id='x')\n"
        "got = []\n"
        "bus.subscribe('a', got.append)\n"
        "bus.publish('a', Event(type='t', source='s'))\n"
        "assert len(got) == 1\n"
        "assert not any(m.startswith('paho') for m in sys.modules), 'paho imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# -- broker URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", MqttUrl("127.0.0.1", 1883, tls=False)),
        ("mqtt://broker:1884/", MqttUrl("broker", 1884, tls=False)),
        ("mqtts://broker", MqttUrl("broker", 8883, tls=True)),
        (
            "MQTTS://u:p%40ss@broker:8884",
            MqttUrl("broker", 8884, tls=True, username="u", password="p@ss"),
        ),
        ("mqtt://user@broker", MqttUrl("broker", 1883, tls=False, username="user")),
    ],
)
def test_parse_mqtt_url(url: str, expected: MqttUrl) -> None:
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://broker",
        "broker:1883",
        "mqtt://",
        "mqtt://broker:99999",
        "mqtt://b/topic",
        "mqtt://b?x=1",
    ],
)
def test_parse_mqtt_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT URL"):
        parse_mqtt_url(url)


def test_parse_mqtt_url_errors_do_not_leak_the_password() -> None:
    with pytest.raises(ValueError, match="port") as info:
        parse_mqtt_url("mqtt://user:s3cret@broker:notaport")
    assert "s3cret" not in str(info.value)
