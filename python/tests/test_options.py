"""Consume and send options: delay, tags, broadcast, at-most-once, idempotence."""

from __future__ import annotations

import sqlite3
import time

import qmq
from conftest import APP, bodies, eventually, warm_up_listener, warm_up_pull


def test_delay_message_arrives_after_two_seconds(server, client, subject):
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    sent_at = time.monotonic()
    producer.send(qmq.Message(subject, {"body": "later"}, delay=2.0))
    got = []
    while not got and time.monotonic() - sent_at < 20:
        got = [m for m in pc.pull(1, 0.5) if m.get("body") == "later"]
    elapsed = time.monotonic() - sent_at
    assert got, "the delay message arrived"
    assert elapsed >= 1.9, f"arrived after {elapsed:.2f}s"
    assert elapsed < 10
    got[0].ack()
    pc.close()


def test_tags_filter_or_and(server, client, subject):
    producer = client.producer()
    consumer = client.consumer()
    any_a = consumer.pull_consumer(subject, "or", tags=["a", "b"])
    all_ab = consumer.pull_consumer(subject, "and", tags=["a", "b"], tag_type="and")
    # Warm up with a message carrying both tags, so it passes both filters.
    for pc in (any_a, all_ab):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            producer.send(qmq.Message(subject, {"warmup": "1"}, tags=["a", "b"]))
            got = pc.pull(16, 0.5)
            for m in got:
                m.ack()
            if got:
                break
    producer.send(qmq.Message(subject, {"body": "a"}, tags=["a"]))
    producer.send(qmq.Message(subject, {"body": "b"}, tags=["b"]))
    producer.send(qmq.Message(subject, {"body": "ab"}, tags=["a", "b"]))
    producer.send(qmq.Message(subject, {"body": "none"}))

    def drain(pc):
        seen = []
        for _ in range(6):
            for m in pc.pull(10, 0.5):
                seen.append(m)
                m.ack()
        return sorted(bodies(seen))

    assert drain(any_a) == ["a", "ab", "b"]
    assert drain(all_ab) == ["ab"]
    received_tags = []
    producer.send(qmq.Message(subject, {"body": "t"}, tags=["a", "x"]))
    for _ in range(20):
        got = any_a.pull(1, 0.5)
        if got:
            received_tags = got[0].tags
            got[0].ack()
            break
    assert received_tags == ["a", "x"]


def test_broadcast_gives_every_consumer_every_message(server, subject):
    clients = [qmq.Client(server.meta_url, APP) for _ in range(2)]
    try:
        producer = clients[0].producer()
        seen = [[], []]
        subs = [
            c.consumer().listen(subject, seen[i].append, broadcast=True)
            for i, c in enumerate(clients)
        ]
        for s in seen:
            warm_up_listener(producer, s, subject)
        producer.send_batch([qmq.Message(subject, {"body": str(i)}) for i in range(5)])
        for s in seen:
            assert eventually(lambda s=s: len(bodies(s)) == 5), bodies(s)
            assert sorted(bodies(s)) == [str(i) for i in range(5)]
        assert subs[0].group != subs[1].group  # each consumer is its own group
        for sub in subs:
            sub.stop()
    finally:
        for c in clients:
            c.close()


def test_at_most_once_never_redelivers(server, client, subject):
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g", at_most_once=True)
    warm_up_pull(producer, pc, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "once"}))
    (msg,) = [m for m in pc.pull(1, 10.0)]
    assert msg.message_id == receipt.message_id
    msg.nack("failed, but at-most-once")
    again = []
    for _ in range(6):  # retry delay is 0.5 s: a retry would be back well within 3 s
        again += [m for m in pc.pull(5, 0.5) if m.message_id == receipt.message_id]
    assert again == []
    pc.close()


def test_idempotence_skips_processed_messages_but_lets_retries_run(
    server, client, subject, tmp_path
):
    db = tmp_path / "dedup.sqlite"
    store = qmq.SqliteIdempotenceStore(str(db))
    assert store.kind == "sqlite"
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g", idempotence=store)
    warm_up_pull(producer, pc, subject)

    # "dup" was processed before (e.g. by an earlier run sharing the database).
    dup = producer.send(qmq.Message(subject, {"body": "dup"}))
    with sqlite3.connect(str(db)) as conn:
        conn.execute(
            "INSERT INTO deduplicate_tbl(k, update_at) VALUES (?, ?)",
            (f"{subject}%g%{dup.message_id}", int(time.time() * 1000)),
        )
    fresh = producer.send(qmq.Message(subject, {"body": "fresh"}))

    got = []
    for _ in range(10):
        got += pc.pull(5, 0.5)
        if any(m.message_id == fresh.message_id for m in got):
            break
    assert [m.message_id for m in got] == [fresh.message_id], "dup was skipped"
    # A failure forgets the key, so the retry is processed.
    got[0].nack("first try fails")
    retried = []
    for _ in range(20):
        retried += [m for m in pc.pull(1, 0.5) if m.message_id == fresh.message_id]
        if retried:
            break
    assert retried and retried[0].times == 2
    retried[0].ack()
    pc.close()


def test_memory_idempotence_store_can_be_used(server, client, subject):
    store = qmq.MemoryIdempotenceStore(capacity=1000, ttl=60)
    assert store.kind == "memory"
    producer = client.producer()
    seen = []
    sub = client.consumer().listen(subject, seen.append, "g", idempotence=store)
    warm_up_listener(producer, seen, subject)
    producer.send(qmq.Message(subject, {"body": "x"}))
    assert eventually(lambda: bodies(seen) == ["x"])
    sub.stop()
