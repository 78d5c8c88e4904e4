"""Producer → pull consumer: send, pull, ack, nack (retry), batch send, future send."""

from __future__ import annotations

import concurrent.futures

import qmq
from conftest import APP, warm_up_pull


def test_send_pull_ack(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    pc = consumer.pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)

    receipt = producer.send(qmq.Message(subject, {"body": "hello", "n": 7, "ok": True}))
    assert isinstance(receipt, qmq.SendReceipt)
    assert receipt.message_id and receipt.broker_group and receipt.attempts >= 1

    got = pc.pull(1, 10.0)
    assert len(got) == 1
    msg = got[0]
    assert msg.message_id == receipt.message_id
    assert msg.subject == subject
    assert msg["body"] == "hello"
    assert msg.get("n") == "7" and msg.get("ok") == "true"
    assert msg.get("missing", "d") == "d"
    assert msg.times == 1
    assert msg.properties["qmq_appCode"] == APP
    assert msg.needs_ack
    msg.ack()
    assert not msg.needs_ack
    # Acked: not redelivered.
    assert [m for m in pc.pull(5, 1.5) if not m.get("warmup")] == []
    pc.close()


def test_nack_is_redelivered_with_times_2(server, client, subject):
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "again"}))
    (first,) = pc.pull(1, 10.0)
    first.nack("try later")
    again = []
    for _ in range(40):
        again += [m for m in pc.pull(1, 0.5) if m.message_id == receipt.message_id]
        if again:
            break
    assert again, "the nacked message came back"
    assert again[0].times == 2
    again[0].ack()
    pc.close()


def test_context_manager_acks_or_nacks(server, client, subject):
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    producer.send(qmq.Message(subject, {"body": "x"}))
    (msg,) = pc.pull(1, 10.0)
    with msg:
        pass
    assert not msg.needs_ack
    try:
        msg.ack()
    except qmq.QmqError as e:
        assert "already acked" in str(e)
    else:
        raise AssertionError("a second ack must raise")
    pc.close()


def test_send_batch_and_send_async(server, client, subject):
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    receipts = producer.send_batch([qmq.Message(subject, {"body": str(i)}) for i in range(500)])
    assert len(receipts) == 500
    assert all(isinstance(r, qmq.SendReceipt) for r in receipts)
    assert len({r.message_id for r in receipts}) == 500

    calls = []
    fut = producer.send_async(qmq.Message(subject, {"body": "async"}), lambda r, e: calls.append(e))
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(10).message_id
    assert calls == [None]

    seen = set()
    for _ in range(60):
        for m in pc.pull(100, 0.5):
            if not m.get("warmup"):
                seen.add(m["body"])
            m.ack()
        if len(seen) == 501:
            break
    assert len(seen) == 501
    pc.close()


def test_private_client_producer_and_consumer(server, subject):
    with qmq.Producer(server.meta_url, APP) as producer, qmq.Consumer(
        server.meta_url, APP, pull_batch_size=10
    ) as consumer:
        pc = consumer.pull_consumer(subject, "g")
        warm_up_pull(producer, pc, subject)
        producer.send(qmq.Message(subject, {"body": "own"}))
        got = [m for m in pc.pull(1, 10.0)]
        assert got and got[0]["body"] == "own"
        got[0].ack()
    assert producer.closed and consumer.closed
    assert producer.client.closed
