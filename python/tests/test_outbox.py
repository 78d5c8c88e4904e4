"""Transactional messages through the user's own sqlite3 / psycopg connection: commit sends
once and deletes the row, rollback sends nothing, a failed send leaves the row for the
watchdog, stage + send_committed for self-managed commits, wrong connections are refused."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import time

import pytest

import qmq
from conftest import APP, eventually, pull_all, warm_up_pull


def business_table(db, table: str) -> str:
    name = f"{table}_biz"
    db.run(f"CREATE TABLE {name} (v VARCHAR(100) NOT NULL)")
    return name


def outbox_rows(db, outbox: qmq.Outbox) -> int:
    return db.scalar(f"SELECT COUNT(*) FROM {outbox.table}")


@pytest.fixture
def setup(server, client, subject, db, table):
    """(producer, pull consumer warmed up on subject, outbox with its table, business table)."""
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    outbox = qmq.Outbox(producer, db.location, table=f"{table}_outbox", create_table=True)
    assert outbox.dialect == db.kind
    biz = business_table(db, table)
    yield producer, pc, outbox, biz
    pc.close()


def test_commit_sends_once_and_deletes_the_row(setup, db, subject):
    producer, pc, outbox, biz = setup
    conn = db.connect()
    with outbox.transaction(conn) as tx:
        conn.execute(f"INSERT INTO {biz} (v) VALUES ({db.p})", ("paid",))
        row_id = tx.send(qmq.Message(subject, {"body": "committed"}))
        assert row_id > 0
        # The row is in the user's transaction, invisible to everybody else until the commit.
        assert conn.execute(f"SELECT COUNT(*) FROM {outbox.table}").fetchone()[0] == 1
        assert outbox_rows(db, outbox) == 0
    conn.close()
    assert tx.committed
    assert len(tx.results) == 1 and tx.errors == []
    receipt = tx.results[0]
    assert isinstance(receipt, qmq.OutboxReceipt)
    assert receipt.row_id == row_id and receipt.row_deleted
    assert db.scalar(f"SELECT COUNT(*) FROM {biz}") == 1
    assert outbox_rows(db, outbox) == 0
    assert outbox.rows() == []
    got = pull_all(pc, 2.0)
    assert [(m.message_id, m.get("body")) for m in got] == [(receipt.message_id, "committed")]
    assert got[0].get("qmq_appCode") == APP


def test_several_messages_in_one_transaction(setup, db, subject):
    producer, pc, outbox, biz = setup
    conn = db.connect()
    with outbox.transaction(conn) as tx:
        for i in range(3):
            tx.send(qmq.Message(subject, {"body": f"m{i}"}))
    conn.close()
    assert [type(r) for r in tx.results] == [qmq.OutboxReceipt] * 3
    got = pull_all(pc, 2.0)
    assert sorted(m.get("body") for m in got) == ["m0", "m1", "m2"]
    assert outbox_rows(db, outbox) == 0


def test_rollback_sends_nothing_and_leaves_no_row(setup, db, subject):
    producer, pc, outbox, biz = setup
    conn = db.connect()
    with pytest.raises(RuntimeError, match="business failed"):
        with outbox.transaction(conn) as tx:
            conn.execute(f"INSERT INTO {biz} (v) VALUES ({db.p})", ("paid",))
            tx.send(qmq.Message(subject, {"body": "rolled back"}))
            assert conn.execute(f"SELECT COUNT(*) FROM {outbox.table}").fetchone()[0] == 1
            raise RuntimeError("business failed")
    assert not tx.committed and tx.results == []
    # The connection is usable again and the rollback took both rows with it.
    assert conn.execute(f"SELECT COUNT(*) FROM {outbox.table}").fetchone()[0] == 0
    conn.close()
    assert db.scalar(f"SELECT COUNT(*) FROM {biz}") == 0
    assert outbox_rows(db, outbox) == 0
    assert pull_all(pc, 2.0) == []
    with pytest.raises(qmq.ClosedError):
        tx.send(qmq.Message(subject, {"body": "late"}))


def test_failed_send_keeps_the_row_and_the_commit(server, subject, db, table, caplog):
    # A producer whose client is closed by the time of the commit: the send is refused.
    client = qmq.Client(server.meta_url, APP)
    producer = client.producer()
    outbox = qmq.Outbox(producer, db.location, table=f"{table}_outbox", create_table=True)
    biz = business_table(db, table)
    conn = db.connect()
    caplog.set_level(logging.WARNING, logger="qmq.outbox")
    with outbox.transaction(conn) as tx:
        conn.execute(f"INSERT INTO {biz} (v) VALUES ({db.p})", ("paid",))
        row_id = tx.send(qmq.Message(subject, {"body": "stuck"}))
        client.close()
    conn.close()
    assert tx.committed
    [error] = tx.results
    assert isinstance(error, qmq.OutboxError), error
    assert error.row_id == row_id
    assert error.row_fate in ("left_for_watchdog", "unchanged")
    assert error.message_id or error.row_fate == "unchanged"
    assert "not sent after commit" in caplog.text
    # The business change stands, and the row waits for the watchdog (status 0 = pending).
    assert db.scalar(f"SELECT COUNT(*) FROM {biz}") == 1
    [row] = outbox.rows()
    assert row.id == row_id and row.status == 0
    assert '"subject":"' + subject + '"' in row.content


def test_unreachable_broker_raises_after_commit_when_asked(subject, db, table):
    # Nothing answers at this meta URL: every attempt fails, the row is counted and kept.
    client = qmq.Client(
        "http://127.0.0.1:9/meta/address", APP, send_tries=1, send_timeout=0.5
    )
    try:
        outbox = qmq.Outbox(
            client.producer(), db.location, table=f"{table}_outbox", create_table=True
        )
        conn = db.connect()
        with pytest.raises(qmq.OutboxError) as info:
            with outbox.transaction(conn, raise_on_send_error=True) as tx:
                tx.send(qmq.Message(subject, {"body": "nowhere"}))
        conn.close()
        assert tx.committed
        assert info.value.kind == "Send"
        assert info.value.row_fate == "left_for_watchdog"
        [row] = outbox.rows()
        assert (row.id, row.status, row.error) == (info.value.row_id, 0, 1)
    finally:
        client.close()


def test_stage_and_send_committed_for_self_managed_commits(setup, db, subject):
    producer, pc, outbox, biz = setup
    conn = db.connect()
    if db.kind == "sqlite":
        conn.execute("BEGIN")
    cur = conn.cursor()
    message = qmq.Message(subject, {"body": "manual"})
    row_id = outbox.stage(cur, message)
    # Not committed yet: nothing is sent, the row is untouched.
    with pytest.raises(qmq.OutboxError) as info:
        outbox.send_committed(message, row_id)
    assert info.value.kind == "NotCommitted" and info.value.row_fate == "not_committed"
    assert pull_all(pc, 1.0) == []
    conn.commit()
    receipt = outbox.send_committed(message, row_id)
    assert receipt.row_id == row_id and receipt.row_deleted
    assert outbox_rows(db, outbox) == 0
    got = pull_all(pc, 2.0)
    assert [m.message_id for m in got] == [receipt.message_id]
    # Sent once: the same row cannot be sent again.
    with pytest.raises(ValueError, match="was not staged"):
        outbox.send_committed(message, row_id)

    # A rolled-back row is never sent.
    lost = qmq.Message(subject, {"body": "lost"})
    if db.kind == "sqlite":
        conn.execute("BEGIN")
    lost_row = outbox.stage(conn, lost)
    conn.rollback()
    with pytest.raises(qmq.OutboxError) as info:
        outbox.send_committed(lost, lost_row)
    assert info.value.row_fate == "not_committed"
    conn.close()
    assert pull_all(pc, 1.0) == []
    assert outbox_rows(db, outbox) == 0


def test_wrong_connections_are_refused(server, client, tmp_path, postgres_url, table):
    producer = client.producer()
    path = str(tmp_path / "app.sqlite")
    outbox = qmq.Outbox(producer, path, table=f"{table}_outbox", create_table=True)
    message = qmq.Message("py.any", {})
    with pytest.raises(TypeError, match="sqlite3 or psycopg"):
        outbox.transaction(object())
    with pytest.raises(TypeError, match="sqlite3 or psycopg"):
        outbox.stage("not a cursor", message)
    with pytest.raises(TypeError, match="qmq.Producer"):
        qmq.Outbox(object(), path)  # type: ignore[arg-type]
    other = sqlite3.connect(str(tmp_path / "other.sqlite"))
    with pytest.raises(ValueError, match="is not the outbox database"):
        outbox.transaction(other)
    other.close()
    memory = sqlite3.connect(":memory:")
    with pytest.raises(ValueError, match="in memory"):
        outbox.stage(memory, message)
    memory.close()

    import psycopg

    pg = qmq.Outbox(producer, postgres_url, table=f"{table}_pg")
    assert pg.dialect == "postgres"
    sq = sqlite3.connect(path)
    with pytest.raises(TypeError, match="outbox database is postgres"):
        pg.transaction(sq)
    sq.close()
    with psycopg.connect(postgres_url) as conn:
        with pytest.raises(TypeError, match="outbox database is sqlite"):
            outbox.transaction(conn)
    with pytest.raises(qmq.InvalidArgumentError):
        qmq.Outbox(producer, path, table="bad;name")
    with pytest.raises(qmq.InvalidArgumentError):
        qmq.Outbox(producer, ":memory:")


def test_watchdog_resends_a_row_left_by_a_failed_send(server, client, subject, db, table, tmp_path):
    """End to end: the send after the commit fails, and ``qmq-server watchdog`` watching the
    same database resends the row (same message id) and deletes it."""
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g")
    warm_up_pull(producer, pc, subject)
    nowhere = qmq.Client("http://127.0.0.1:9/meta/address", APP, send_tries=1, send_timeout=0.5)
    outbox_table = f"{table}_outbox"
    try:
        outbox = qmq.Outbox(nowhere.producer(), db.location, table=outbox_table)
        outbox.create_table()
        conn = db.connect()
        with outbox.transaction(conn) as tx:
            tx.send(qmq.Message(subject, {"body": "via watchdog"}))
        conn.close()
    finally:
        nowhere.close()
    [error] = tx.errors
    assert error.row_fate == "left_for_watchdog" and error.message_id
    assert pull_all(pc, 1.0) == []

    config = tmp_path / "watchdog.toml"
    config.write_text(
        "[server]\n"
        f'data_dir = "{tmp_path / "wd"}"\n'
        'host = "127.0.0.1"\n'
        f'meta_url = "{server.meta_url}"\n'
        "[watchdog]\n"
        "scan_interval_ms = 300\n"
        "age_threshold_ms = 1000\n"
        "[[watchdog.databases]]\n"
        f'dialect = "{db.kind}"\n'
        f'url = "{db.location}"\n'
        f'table = "{outbox_table}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMQ_")}
    env.setdefault("RUST_LOG", "warn")
    log = open(tmp_path / "watchdog.log", "wb")
    proc = subprocess.Popen(
        [os.environ["QMQ_SERVER_BIN"], "watchdog", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env,
    )
    try:
        got = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not got:
            got = pull_all(pc, 0.5)
        assert [(m.message_id, m.get("body")) for m in got] == [
            (error.message_id, "via watchdog")
        ], (tmp_path / "watchdog.log").read_text()
        assert eventually(lambda: outbox_rows(db, outbox) == 0)
        assert pull_all(pc, 1.0) == [], "resent once"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        pc.close()


def test_autocommit_connections_get_an_explicit_transaction(setup, db, subject):
    """sqlite3 with isolation_level=None and psycopg with autocommit=True would commit every
    statement on its own: the block still commits or rolls back as one transaction."""
    producer, pc, outbox, biz = setup
    conn = db.connect()
    if db.kind == "sqlite":
        conn.isolation_level = None
    else:
        conn.autocommit = True
    with pytest.raises(RuntimeError):
        with outbox.transaction(conn) as tx:
            conn.execute(f"INSERT INTO {biz} (v) VALUES ({db.p})", ("rolled back",))
            tx.send(qmq.Message(subject, {"body": "rolled back"}))
            raise RuntimeError("undo")
    assert db.scalar(f"SELECT COUNT(*) FROM {biz}") == 0
    assert outbox_rows(db, outbox) == 0
    with outbox.transaction(conn) as tx:
        conn.execute(f"INSERT INTO {biz} (v) VALUES ({db.p})", ("kept",))
        tx.send(qmq.Message(subject, {"body": "kept"}))
        assert outbox_rows(db, outbox) == 0, "not committed before the block ends"
    conn.close()
    assert tx.errors == [] and db.scalar(f"SELECT COUNT(*) FROM {biz}") == 1
    assert [m.get("body") for m in pull_all(pc, 2.0)] == ["kept"]
