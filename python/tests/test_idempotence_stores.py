"""The core's network idempotence stores from Python (PostgreSQL, MariaDB as MySQL, Redis): a
key recorded before skips the message, a failure forgets the key so the retry runs."""

from __future__ import annotations

import shutil
import socket
import subprocess
from urllib.parse import urlparse

import pytest

import qmq
from conftest import warm_up_pull


def redis_set(url: str, key: str) -> None:
    """``SET key 1`` over a raw socket (the test venv has no Redis client)."""
    parsed = urlparse(url)
    parts = [b"SET", key.encode(), b"1"]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=5) as s:
        s.sendall(command)
        assert s.recv(64).startswith(b"+OK"), "redis did not accept SET"


def record(kind: str, url: str, table: str, key: str) -> None:
    if kind == "postgres":
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute(f"INSERT INTO {table} (k) VALUES (%s)", (key,))
    elif kind == "redis":
        redis_set(url, f"{table}:{key}")
    elif kind == "mysql":
        # The test venv has no MySQL driver: the MariaDB command-line client.
        client = shutil.which("mariadb") or shutil.which("mysql")
        assert client, "no mariadb/mysql client on PATH"
        parsed = urlparse(url)
        subprocess.run(
            [
                client, "--no-defaults", "-h", parsed.hostname or "127.0.0.1",
                "-P", str(parsed.port), "-u", parsed.username or "root",
                parsed.path.lstrip("/"), "-e",
                f"INSERT INTO {table} (k) VALUES ('{key}')",
            ],
            check=True,
            timeout=30,
        )
    else:
        raise AssertionError(kind)


@pytest.fixture(params=["postgres", "mysql", "redis"])
def store(request, table):
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        return "postgres", url, qmq.PostgresIdempotenceStore(url, table=table)
    if request.param == "mysql":
        url = request.getfixturevalue("mysql_url")
        return "mysql", url, qmq.MySqlIdempotenceStore(url, table=table)
    url = request.getfixturevalue("redis_url")
    return "redis", url, qmq.RedisIdempotenceStore(url, key_prefix=f"{table}:", ttl=60)


def test_network_store_skips_recorded_keys_and_lets_retries_run(
    server, client, subject, store, table
):
    kind, url, st = store
    assert st.kind == kind
    producer = client.producer()
    pc = client.consumer().pull_consumer(subject, "g", idempotence=st)
    warm_up_pull(producer, pc, subject)

    dup = producer.send(qmq.Message(subject, {"body": "dup"}))
    record(kind, url, table, f"{subject}%g%{dup.message_id}")
    fresh = producer.send(qmq.Message(subject, {"body": "fresh"}))
    got = []
    for _ in range(10):
        got += [m for m in pc.pull(5, 0.5) if not m.get("warmup")]
        if any(m.message_id == fresh.message_id for m in got):
            break
    assert [m.message_id for m in got] == [fresh.message_id], "dup was skipped"
    got[0].nack("first try fails")
    retried = []
    for _ in range(20):
        retried += [m for m in pc.pull(1, 0.5) if m.message_id == fresh.message_id]
        if retried:
            break
    assert retried and retried[0].times == 2
    retried[0].ack()
    pc.close()


def test_unreachable_or_bad_store_urls_fail_when_built():
    with pytest.raises(qmq.QmqError):
        qmq.PostgresIdempotenceStore("postgres://nobody@127.0.0.1:9/x", connect_timeout=1)
    with pytest.raises(qmq.QmqError):
        qmq.MySqlIdempotenceStore("mysql://nobody@127.0.0.1:9/x", connect_timeout=1)
    with pytest.raises(qmq.QmqError):
        qmq.RedisIdempotenceStore("redis://127.0.0.1:9/", connect_timeout=1)
    with pytest.raises(ValueError):
        qmq.RedisIdempotenceStore("redis://127.0.0.1:9/", ttl=0)
    with pytest.raises(TypeError):
        qmq.PostgresIdempotenceStore(42)  # type: ignore[arg-type]
