#!/usr/bin/env python3
"""Throughput of the Python client against the Rust client: same run, same server, 100-byte
messages. Reports the median msgs/s of each side over ``--rounds`` rounds and the ratios.

Producer: Python builds ``qmq.Message`` objects and sends them with ``send_batch`` (pipelined,
waits for every result); Rust builds ``ProducerMessage``s and pipelines
``send_with_backpressure`` futures (``bindings/python/examples/rust_bench.rs``).
Consumer: subscribe a pull consumer, warm it up, send ``--count`` messages (untimed), then time
pulling and acking all of them, on both sides.

Usage (release builds recommended on both sides)::

    cargo build --release -p qmq-server -p qmq-python --example rust_bench
    (cd python && maturin build --release) && pip install target/wheels/qmq-*.whl
    python python/bench/producer_bench.py --server-bin target/release/qmq-server \\
        --rust-bin target/release/examples/rust_bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Dict, List, Tuple

import qmq

BODY = "b" * 100


def start_server(binary: str, data: str) -> Tuple["subprocess.Popen[bytes]", str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMQ_")}
    env.setdefault("RUST_LOG", "warn")
    os.makedirs(data, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary, "standalone", "--data-dir", data, "--host", "127.0.0.1",
            "--meta-http-port", "0", "--meta-tcp-port", "0", "--broker-port", "0",
            "--delay-port", "0",
        ],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(data, "server.log"), "wb"),
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

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(60)
    if not ready:
        proc.kill()
        raise SystemExit("qmq-server did not start")
    return proc, f"http://127.0.0.1:{ready[0]['meta_http']}/meta/address"


def rust(binary: str, mode: str, meta: str, count: int) -> float:
    subject = f"bench.rust.{mode}.{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        [binary, mode, meta, str(count), subject], check=True, capture_output=True, text=True
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["msgs_per_sec"])


def py_produce(meta: str, count: int, chunk: int) -> float:
    subject = f"bench.py.produce.{uuid.uuid4().hex[:8]}"
    with qmq.Producer(meta, "bench") as producer:
        producer.send(qmq.Message(subject))  # warm up the route and the connection
        start = time.perf_counter()
        left = count
        while left:
            n = min(chunk, left)
            producer.send_batch([qmq.Message(subject, {"body": BODY}) for _ in range(n)])
            left -= n
        return count / (time.perf_counter() - start)


def py_consume(meta: str, count: int, chunk: int) -> float:
    subject = f"bench.py.consume.{uuid.uuid4().hex[:8]}"
    with qmq.Client(meta, "bench") as client:
        producer = client.producer()
        pc = client.consumer().pull_consumer(subject, "bench")
        deadline = time.monotonic() + 30
        while True:
            producer.send(qmq.Message(subject, {"warmup": "1"}))
            got = pc.pull(16, 0.5)
            for m in got:
                m.ack()
            if got:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the consumer never received a warm-up message")
        left = count
        while left:
            n = min(chunk, left)
            producer.send_batch([qmq.Message(subject, {"body": BODY}) for _ in range(n)])
            left -= n
        start = time.perf_counter()
        got_n = 0
        while got_n < count:
            for m in pc.pull(64, 1.0):
                if m.get("warmup") is None:
                    got_n += 1
                m.ack()
            if time.perf_counter() - start > 300:
                raise SystemExit(f"only {got_n} of {count} messages consumed")
        seconds = time.perf_counter() - start
        pc.close()
        return count / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server-bin", default=os.environ.get("QMQ_SERVER_BIN"))
    ap.add_argument("--rust-bin", default=os.environ.get("QMQ_RUST_BENCH_BIN"))
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=2_000, help="messages per send_batch call")
    ap.add_argument("--check", type=float, default=None, help="fail below this ratio")
    args = ap.parse_args()
    if not args.server_bin or not args.rust_bin:
        ap.error("--server-bin and --rust-bin (or QMQ_SERVER_BIN, QMQ_RUST_BENCH_BIN) are required")

    rates: Dict[str, List[float]] = {k: [] for k in ("rust_produce", "py_produce",
                                                     "rust_consume", "py_consume")}
    with tempfile.TemporaryDirectory() as data:
        proc, meta = start_server(args.server_bin, data)
        try:
            for r in range(args.rounds):
                # Alternate who goes first so that a warming server favours nobody.
                order = [("rust", "produce"), ("py", "produce"), ("rust", "consume"),
                         ("py", "consume")]
                if r % 2:
                    order = [order[1], order[0], order[3], order[2]]
                for side, mode in order:
                    if side == "rust":
                        rate = rust(args.rust_bin, mode, meta, args.count)
                    elif mode == "produce":
                        rate = py_produce(meta, args.count, args.chunk)
                    else:
                        rate = py_consume(meta, args.count, args.chunk)
                    rates[f"{side}_{mode}"].append(rate)
                    print(f"round {r + 1}: {side:4} {mode:7} {rate:10.0f} msgs/s", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)

    med = {k: statistics.median(v) for k, v in rates.items()}
    report = {
        "count": args.count,
        "rounds": args.rounds,
        "median_msgs_per_sec": {k: round(v) for k, v in med.items()},
        "producer_ratio": round(med["py_produce"] / med["rust_produce"], 3),
        "consumer_ratio": round(med["py_consume"] / med["rust_consume"], 3),
    }
    print(json.dumps(report))
    worst = min(report["producer_ratio"], report["consumer_ratio"])
    if args.check is not None and worst < args.check:
        print(f"ratio below {args.check}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
