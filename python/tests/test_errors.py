"""Bad input and misuse: clear exceptions, never a crash; Ctrl-C interrupts a blocking pull."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import qmq
from conftest import APP


def test_wrong_argument_types_raise_type_error(server, client, subject):
    with pytest.raises(TypeError, match="subject must be str, not int"):
        qmq.Message(123)
    with pytest.raises(TypeError, match="property 'k' must be str, int, float, bool or datetime"):
        qmq.Message(subject, {"k": object()})
    with pytest.raises(TypeError, match="properties must be a mapping"):
        qmq.Message(subject, ["k", "v"])
    with pytest.raises(TypeError, match=r"tags\[1\] must be str, not int"):
        qmq.Message(subject, tags=["a", 1])
    with pytest.raises(TypeError, match="tags must be an iterable of str"):
        qmq.Message(subject, tags="abc")
    with pytest.raises(TypeError, match="delay must be a number of seconds"):
        qmq.Message(subject, delay="2s")
    with pytest.raises(TypeError, match="meta_url must be str, not bytes"):
        qmq.Client(b"http://x", APP)
    producer = client.producer()
    with pytest.raises(TypeError, match="message must be a qmq.Message, not str"):
        producer.send("hello")
    with pytest.raises(TypeError, match=r"messages\[1\] must be a qmq.Message, not dict"):
        producer.send_batch([qmq.Message(subject), {"subject": subject}])
    with pytest.raises(TypeError, match="messages must be an iterable"):
        producer.send_batch(42)
    consumer = client.consumer()
    with pytest.raises(TypeError, match="subject must be str, not NoneType"):
        consumer.pull_consumer(None, "g")
    with pytest.raises(TypeError, match="broadcast must be bool, not int"):
        consumer.pull_consumer(subject, "g", broadcast=1)
    with pytest.raises(TypeError, match="idempotence must be a qmq.IdempotenceStore"):
        consumer.pull_consumer(subject, "g", idempotence="memory")
    with pytest.raises(TypeError, match="handler must be callable, not int"):
        consumer.listen(subject, 5, "g")
    pc = consumer.pull_consumer(subject, "g")
    with pytest.raises(TypeError, match="max_messages must be int, not str"):
        pc.pull("10")
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        pc.pull(1, timeout=None)
    # The native layer checks too: handing it a foreign object raises, it does not crash.
    with pytest.raises(TypeError, match="message must be a qmq.Message"):
        producer._ref.send(object())
    with pytest.raises(TypeError):
        producer._ref.send_batch([1, 2])
    pc.close()


def test_bad_values_raise_invalid_argument(server, client, subject):
    producer = client.producer()
    with pytest.raises(qmq.InvalidArgumentError, match="subject"):
        producer.send(qmq.Message("has space"))
    with pytest.raises(ValueError, match="reserved"):
        producer.send(qmq.Message(subject, {"qmq_times": "3"}))
    with pytest.raises(ValueError, match="group is required"):
        client.consumer().pull_consumer(subject, "")
    with pytest.raises(qmq.InvalidArgumentError) as info:
        qmq.Client("ftp://nowhere", APP)
    assert info.value.kind == "Config"
    assert info.value.retriable is False


def test_closed_producer_and_consumer_raise_closed_error(server, subject):
    producer = qmq.Producer(server.meta_url, APP)
    producer.close()
    producer.close()  # idempotent
    with pytest.raises(qmq.ClosedError, match="producer is closed"):
        producer.send(qmq.Message(subject))
    with pytest.raises(qmq.ClosedError):
        producer.send_batch([qmq.Message(subject)])

    consumer = qmq.Consumer(server.meta_url, APP)
    pc = consumer.pull_consumer(subject, "g")
    consumer.close()
    with pytest.raises(qmq.ClosedError, match="consumer is closed"):
        consumer.pull_consumer(subject, "g")
    with pytest.raises(qmq.ClosedError):
        pc.pull(1, 0.1)

    # A producer on a shared client that was closed underneath it.
    client = qmq.Client(server.meta_url, APP)
    shared = client.producer()
    client.close()
    with pytest.raises(qmq.ClosedError) as info:
        shared.send(qmq.Message(subject))
    assert isinstance(info.value, qmq.QmqError)
    with pytest.raises(qmq.ClosedError):
        shared._ref.send(qmq.Message(subject))  # the native check, past the Python one


def test_ctrl_c_interrupts_a_blocking_pull(server, client, subject):
    pc = client.consumer().pull_consumer(subject, "g")
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pc.pull(1, 30.0)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    pc.close()


def test_ctrl_c_interrupts_listener_wait(server, client, subject):
    consumer = client.consumer()
    consumer.listen(subject, lambda m: None, "g")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            consumer.wait()
    finally:
        timer.cancel()
    consumer.close()


def test_handler_exception_types_never_escape(server, client, subject):
    """A handler raising BaseException subclasses (SystemExit) only fails the message."""
    producer = client.producer()
    seen = []

    def handle(msg: qmq.ReceivedMessage) -> None:
        seen.append(msg)
        raise SystemExit(3)

    sub = client.consumer().listen(subject, handle, "g", max_retry=1)
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        producer.send(qmq.Message(subject, {"body": "x"}))
        time.sleep(0.3)
    assert seen
    assert "SystemExit" in (sub.last_failure or "")
    sub.stop()
