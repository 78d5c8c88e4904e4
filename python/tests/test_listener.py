"""Listeners: the decorator, retry on exception (traceback kept), dead-lettering."""

from __future__ import annotations

import threading
import time

import qmq
from conftest import bodies, eventually, warm_up_listener


def test_decorator_listener_receives_messages(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    seen = []
    threads = set()

    @consumer.subscribe(subject, group="g")
    def handle(msg: qmq.ReceivedMessage) -> None:
        threads.add(threading.current_thread().name)
        seen.append(msg)

    assert isinstance(handle.subscription, qmq.Subscription)
    assert consumer.subscriptions == [handle.subscription]
    warm_up_listener(producer, seen, subject)
    producer.send_batch([qmq.Message(subject, {"body": f"m{i}"}) for i in range(20)])
    assert eventually(lambda: len(bodies(seen)) == 20), bodies(seen)
    assert sorted(bodies(seen)) == sorted(f"m{i}" for i in range(20))
    assert threading.main_thread().name not in threads
    assert handle.subscription.stop(10.0)
    assert handle.subscription.stopped
    assert consumer.subscriptions == []


def test_exception_means_retry_with_traceback_as_reason(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    seen = []

    def handle(msg: qmq.ReceivedMessage) -> None:
        seen.append(msg)
        if msg.get("body") == "bad" and msg.times == 1:
            print(1 / 0)

    sub = consumer.listen(subject, handle, "g")
    warm_up_listener(producer, seen, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "bad"}))
    assert eventually(lambda: len([m for m in seen if m.get("body") == "bad"]) >= 2, 20)
    tries = [m.times for m in seen if m.message_id == receipt.message_id]
    assert tries == [1, 2]
    assert sub.failures == 1
    assert sub.last_failure is not None
    assert "Traceback (most recent call last)" in sub.last_failure
    assert "ZeroDivisionError" in sub.last_failure
    assert "print(1 / 0)" in sub.last_failure
    sub.stop()


def test_max_retry_stops_redelivery(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    seen = []

    @consumer.subscribe(subject, group="g", max_retry=2)
    def handle(msg: qmq.ReceivedMessage) -> None:
        seen.append(msg)
        if msg.get("body") == "poison":
            raise RuntimeError("cannot process")

    warm_up_listener(producer, seen, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "poison"}))
    assert eventually(lambda: len([m for m in seen if m.get("body") == "poison"]) >= 2, 20)
    time.sleep(2.0)  # a third try would have come by now (retry delay 0.5 s)
    tries = [m.times for m in seen if m.message_id == receipt.message_id]
    assert tries == [1, 2], "two tries, then the dead-letter subject"
    assert "RuntimeError: cannot process" in (handle.subscription.last_failure or "")
    handle.subscription.stop()


def test_handlers_run_concurrently_off_the_main_thread(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    seen = []
    running = []
    peak = []
    lock = threading.Lock()

    def handle(msg: qmq.ReceivedMessage) -> None:
        with lock:
            running.append(1)
            peak.append(len(running))
        time.sleep(0.05)  # releases the GIL: other handlers run meanwhile
        with lock:
            running.pop()
        seen.append(msg)

    sub = consumer.listen(subject, handle, "g", concurrency=4)
    warm_up_listener(producer, seen, subject)
    producer.send_batch([qmq.Message(subject, {"body": str(i)}) for i in range(16)])
    assert eventually(lambda: len(bodies(seen)) == 16)
    assert max(peak) > 1
    assert max(peak) <= 4
    sub.stop()
