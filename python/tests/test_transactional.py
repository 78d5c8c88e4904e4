"""Transactional idempotence with the user's own sqlite3 / psycopg connection: the dedup key
and the business work commit together, so the work happens once per message even when the
message is delivered again or the handler fails half-way."""

from __future__ import annotations

import threading
import time

import pytest

import qmq
from conftest import eventually, pull_all, warm_up_pull


def business(db, table: str) -> str:
    name = f"{table}_biz"
    db.run(f"CREATE TABLE {name} (message_id VARCHAR(100) NOT NULL, body VARCHAR(100))")
    return name


def count(db, biz: str, message_id: str) -> int:
    return db.scalar(f"SELECT COUNT(*) FROM {biz} WHERE message_id = {db.p}", message_id)


def test_listener_that_fails_once_has_its_effect_once(server, client, subject, db, table):
    biz = business(db, table)
    calls = []

    @qmq.transactional_idempotent(connect=db.connect, table=f"{table}_dedup")
    def handle(msg: qmq.ReceivedMessage, conn) -> None:
        calls.append((msg.message_id, msg.times))
        if msg.get("warmup"):
            return
        conn.execute(
            f"INSERT INTO {biz} (message_id, body) VALUES ({db.p}, {db.p})",
            (msg.message_id, msg.get("body")),
        )
        if msg.times == 1:
            raise RuntimeError("fails after the business insert")

    assert isinstance(handle, qmq.TransactionalHandler)
    producer = client.producer()
    sub = client.consumer().listen(subject, handle, "g")
    warm_up(producer, calls, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "order"}))
    assert eventually(lambda: (receipt.message_id, 2) in calls, 20), calls
    assert eventually(lambda: sub.failures >= 1)
    assert "fails after the business insert" in (sub.last_failure or "")
    # The first try's insert was rolled back with its key; the retry committed both.
    assert eventually(lambda: count(db, biz, receipt.message_id) == 1)
    key = f"{subject}%g%{receipt.message_id}"
    assert db.scalar(f"SELECT COUNT(*) FROM {table}_dedup WHERE k = {db.p}", key) == 1
    sub.stop()
    handle.close()
    assert [t for m, t in calls if m == receipt.message_id] == [1, 2]


def warm_up(producer: qmq.Producer, calls: list, subject: str) -> None:
    """Sends warm-up messages until the listener handled one (a new group starts at the end
    of the log while its route is being set up)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        before = len(calls)
        producer.send(qmq.Message(subject, {"warmup": "1"}))
        if eventually(lambda n=before: len(calls) > n, 0.5):
            return
    raise AssertionError("the listener never received a warm-up message")


def test_redelivered_message_is_skipped(server, client, subject, db, table):
    """A message whose work committed but whose ack was lost comes back with the same id:
    the handler does not run again."""
    biz = business(db, table)
    calls = []

    @qmq.transactional_idempotent(connect=db.connect, table=f"{table}_dedup")
    def handle(msg: qmq.ReceivedMessage, conn) -> None:
        calls.append(msg.message_id)
        conn.execute(
            f"INSERT INTO {biz} (message_id, body) VALUES ({db.p}, {db.p})",
            (msg.message_id, msg.get("body")),
        )

    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "once"}))
    [first] = [m for m in pull_all(pc, 2.0, ack=False) if m.message_id == receipt.message_id]
    assert handle.process(first, pc.group) is True
    first.nack("the ack was lost")  # the broker redelivers the same message id
    again = []
    for _ in range(20):
        again += [m for m in pc.pull(4, 0.5) if m.message_id == receipt.message_id]
        if again:
            break
    assert again and again[0].times == 2
    assert handle.process(again[0], pc.group) is False
    again[0].ack()
    assert calls == [receipt.message_id]
    assert count(db, biz, receipt.message_id) == 1
    pc.close()
    handle.close()


def test_concurrent_duplicates_run_the_work_once(server, client, subject, db, table):
    biz = business(db, table)
    entered = threading.Event()
    release = threading.Event()

    @qmq.transactional_idempotent(connect=db.connect, table=f"{table}_dedup")
    def handle(msg: qmq.ReceivedMessage, conn) -> None:
        conn.execute(
            f"INSERT INTO {biz} (message_id, body) VALUES ({db.p}, {db.p})",
            (msg.message_id, "x"),
        )
        entered.set()
        release.wait(10)

    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "race"}))
    [msg] = [m for m in pull_all(pc, 2.0) if m.message_id == receipt.message_id]
    results = []

    def run() -> None:
        try:
            results.append(handle.process(msg, "g", subject))
        except Exception as e:  # noqa: BLE001
            results.append(e)

    first = threading.Thread(target=run)
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=run)
    second.start()  # blocks on the first one's uncommitted key
    second.join(0.5)
    release.set()
    first.join(15)
    second.join(15)
    assert sorted(results, key=repr) == [False, True], results
    assert count(db, biz, receipt.message_id) == 1
    pc.close()
    handle.close()


def test_key_committed_elsewhere_skips_the_handler(server, client, subject, db, table):
    """The key is ``subject%group%messageId``, as in the core's stores and QMQ: a key committed
    by another consumer process sharing the database makes this one skip the message."""
    biz = business(db, table)
    calls = []

    @qmq.transactional_idempotent(connect=db.connect, table=f"{table}_dedup")
    def handle(msg: qmq.ReceivedMessage, conn) -> None:
        calls.append(msg.message_id)

    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    receipt = producer.send(qmq.Message(subject, {"body": "elsewhere"}))
    [msg] = [m for m in pull_all(pc, 2.0, ack=False) if m.message_id == receipt.message_id]
    db.run(
        f"INSERT INTO {table}_dedup (k, update_at) VALUES ({db.p}, 0)"
        if db.kind == "sqlite"
        else f"INSERT INTO {table}_dedup (k) VALUES ({db.p})",
        f"{subject}%g%{receipt.message_id}",
    )
    assert handle.process(msg, "g") is False
    msg.ack()
    assert calls == [] and count(db, biz, receipt.message_id) == 0
    # Another group has its own key.
    assert handle.process(msg, "other") is True and calls == [receipt.message_id]
    assert qmq._native.idempotence_key("s", "g", "id-1") == "s%g%id-1"
    long_key = qmq._native.idempotence_key("s" * 80, "g" * 40, "m")
    assert len(long_key) == 100 and "#" in long_key
    pc.close()
    handle.close()


def test_wrong_connection_type_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="sqlite3 or psycopg"):

        @qmq.transactional_idempotent(connect=lambda: object())
        def handle(msg, conn) -> None:
            pass

    with pytest.raises(TypeError, match="callable"):
        qmq.transactional_idempotent(connect="sqlite.db")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        import sqlite3

        qmq.transactional_idempotent(
            connect=lambda: sqlite3.connect(str(tmp_path / "x.db")), table="no;pe"
        )(lambda m, c: None)


def test_transactional_handler_refuses_a_second_store(server, client, subject, tmp_path):
    import sqlite3

    @qmq.transactional_idempotent(connect=lambda: sqlite3.connect(str(tmp_path / "d.db")))
    def handle(msg, conn) -> None:
        pass

    with pytest.raises(ValueError, match="do not also"):
        client.consumer().listen(
            subject, handle, "g", idempotence=qmq.MemoryIdempotenceStore()
        )
    # Called directly it is the plain function.
    assert handle(None, None) is None  # type: ignore[arg-type]


def test_psycopg_connections_are_reused(server, client, subject, postgres_url, table):
    import psycopg

    connects = []

    def connect():
        connects.append(1)
        return psycopg.connect(postgres_url)

    handled = []

    @qmq.transactional_idempotent(connect=connect, table=f"{table}_dedup", max_idle=2)
    def handle(msg: qmq.ReceivedMessage, conn) -> None:
        conn.execute("SELECT 1")
        handled.append(msg.message_id)

    producer = client.producer()
    sub = client.consumer().listen(subject, handle, "g", concurrency=2)
    warm_up(producer, handled, subject)
    before = len(handled)
    producer.send_batch([qmq.Message(subject, {"i": str(i)}) for i in range(20)])
    assert eventually(lambda: len(handled) >= before + 20)
    sub.stop()
    # One for the table, at most two in use at once; never one per message.
    assert len(connects) <= 4, len(connects)
    handle.close()
