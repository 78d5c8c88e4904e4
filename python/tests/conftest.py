"""Fixtures: a real qmq-server (binary from ``QMQ_SERVER_BIN``) on ephemeral ports, and helpers.

The tests import ``qmq`` from the installed wheel: run them from a directory where the source
tree is not on ``sys.path`` (``ci/python-tests.sh`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from typing import Callable, Iterator, List

import pytest

import qmq

APP = "pytest"


class Server:
    def __init__(self, proc: "subprocess.Popen[bytes]", ports: dict, log: str) -> None:
        self.proc = proc
        self.ports = ports
        self.log = log
        self.meta_url = f"http://127.0.0.1:{ports['meta_http']}/meta/address"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = os.environ.get("QMQ_SERVER_BIN")
    if not binary or not os.path.exists(binary):
        pytest.fail("set QMQ_SERVER_BIN to a built qmq-server binary")
    data = tmp_path_factory.mktemp("qmq-data")
    log_path = str(data / "server.log")
    # QMQ_<SECTION>_<KEY> variables configure the server: pass only the ones meant for it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMQ_")}
    env["QMQ_BROKER_RETRY_DELAY_MS"] = "500"
    env.setdefault("RUST_LOG", "warn")
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [
            binary, "standalone", "--data-dir", str(data / "store"), "--host", "127.0.0.1",
            "--meta-http-port", "0", "--meta-tcp-port", "0", "--broker-port", "0",
            "--delay-port", "0",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    ready: List[dict] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = line.decode(errors="replace").strip()
            if text.startswith("QMQ_SERVER_READY "):
                ready.append(json.loads(text.split(" ", 1)[1]))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)
    if not ready:
        proc.kill()
        pytest.fail(f"qmq-server did not become ready; see {log_path}")
    try:
        yield Server(proc, ready[0], log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def subject() -> str:
    return "py." + uuid.uuid4().hex[:12]


@pytest.fixture
def client(server: Server) -> Iterator[qmq.Client]:
    c = qmq.Client(server.meta_url, APP)
    yield c
    c.close()


def eventually(check: Callable[[], bool], timeout: float = 15.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def warm_up_pull(producer: qmq.Producer, pc: qmq.PullConsumer, subject: str) -> None:
    """Sends marker messages until the pull consumer gets one (a new group may start at the
    log's end while its route is still being set up), then acks every marker."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        producer.send(qmq.Message(subject, {"warmup": "1"}))
        got = pc.pull(16, 0.5)
        for m in got:
            m.ack()
        if got:
            return
    raise AssertionError("the pull consumer never received a warm-up message")


def warm_up_listener(producer: qmq.Producer, seen: list, subject: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        producer.send(qmq.Message(subject, {"warmup": "1"}))
        if eventually(lambda: any(m.get("warmup") for m in list(seen)), 0.5):
            return
    raise AssertionError("the listener never received a warm-up message")


def bodies(messages: list) -> List[str]:
    return [m.get("body") for m in messages if not m.get("warmup")]


# --- Databases: SQLite files, and the real PostgreSQL, MariaDB and Redis that
# ci/python-tests.sh starts (QMQ_TEST_POSTGRES_URL, QMQ_TEST_MYSQL_URL, QMQ_TEST_REDIS_URL).
# With QMQ_TEST_REQUIRE_DATABASES=1 (set by the script) a missing server fails the test
# instead of skipping it.


def _require(env: str, what: str) -> str:
    value = os.environ.get(env)
    if not value:
        if os.environ.get("QMQ_TEST_REQUIRE_DATABASES") == "1":
            pytest.fail(f"{env} is not set: {what} is required")
        pytest.skip(f"{env} not set ({what})")
    return value


def _psycopg():
    if os.environ.get("QMQ_TEST_REQUIRE_DATABASES") == "1":
        import psycopg

        return psycopg
    return pytest.importorskip("psycopg")


class Db:
    """One backend: ``location`` is what qmq opens, ``connect()`` the user's own connection,
    ``p`` the driver's parameter placeholder."""

    def __init__(self, kind: str, location: str, p: str) -> None:
        self.kind = kind
        self.location = location
        self.p = p

    def connect(self):
        if self.kind == "sqlite":
            import sqlite3

            return sqlite3.connect(self.location, timeout=10)
        return _psycopg().connect(self.location)

    def scalar(self, sql: str, *args):
        """One value, read on a fresh connection (so only committed data is seen)."""
        conn = self.connect()
        try:
            row = conn.execute(sql, args).fetchone()
            return row[0]
        finally:
            conn.close()

    def run(self, sql: str, *args) -> None:
        conn = self.connect()
        try:
            conn.execute(sql, args)
            conn.commit()
        finally:
            conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path) -> Db:
    if request.param == "sqlite":
        return Db("sqlite", str(tmp_path / "app.sqlite"), "?")
    _psycopg()
    return Db("postgres", _require("QMQ_TEST_POSTGRES_URL", "PostgreSQL"), "%s")


@pytest.fixture
def postgres_url() -> str:
    return _require("QMQ_TEST_POSTGRES_URL", "PostgreSQL")


@pytest.fixture
def mysql_url() -> str:
    return _require("QMQ_TEST_MYSQL_URL", "MariaDB/MySQL")


@pytest.fixture
def redis_url() -> str:
    return _require("QMQ_TEST_REDIS_URL", "Redis")


@pytest.fixture
def table() -> str:
    """A table name of its own for each test (tests share one PostgreSQL database)."""
    return "t_" + uuid.uuid4().hex[:12]


def pull_all(pc: qmq.PullConsumer, seconds: float, ack: bool = True) -> list:
    """Every non-warm-up message pulled within ``seconds``."""
    got: list = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for m in pc.pull(16, 0.3):
            if ack:
                m.ack()
            if not m.get("warmup"):
                got.append(m)
    return got
