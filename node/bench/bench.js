'use strict';
// Node vs Rust client throughput against one qmq-server, in one run (100-byte property per
// message, COUNT messages x ROUNDS rounds, alternating which side goes first). Prints the
// median msgs/s per side and the Node/Rust ratios as JSON lines.
// Env: QMQ_META_URL (running server), RUST_BENCH (path of the rust_bench example binary),
// COUNT (default 50000), ROUNDS (default 3), CHUNK (sendBatch size, default 2000).
const { execFileSync } = require('node:child_process');
const { Client } = require('qmq');

const META = process.env.QMQ_META_URL;
const RUST = process.env.RUST_BENCH;
const COUNT = Number(process.env.COUNT || 50000);
const ROUNDS = Number(process.env.ROUNDS || 3);
const CHUNK = Number(process.env.CHUNK || 2000);
const BODY = 'b'.repeat(100);
let seq = 0;
const subject = (mode) => `bench.node.${mode}.${process.pid}.${(seq += 1)}`;

function rust(mode) {
  const out = execFileSync(RUST, [mode, META, String(COUNT), subject(`rust${mode}`)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()).msgs_per_sec;
}

async function sendAll(producer, subj, count) {
  const inflight = [];
  for (let sent = 0; sent < count; sent += CHUNK) {
    const n = Math.min(CHUNK, count - sent);
    const batch = new Array(n);
    for (let i = 0; i < n; i += 1) batch[i] = { subject: subj, properties: { body: BODY } };
    inflight.push(producer.sendBatch(batch));
    if (inflight.length >= 4) {
      const r = await inflight.shift();
      if (!r.every((x) => x.ok)) throw r.find((x) => !x.ok).error;
    }
  }
  for (const p of inflight) {
    const r = await p;
    if (!r.every((x) => x.ok)) throw r.find((x) => !x.ok).error;
  }
}

async function nodeProduce() {
  const client = new Client(META, 'bench');
  const producer = client.producer();
  const subj = subject('produce');
  await producer.send({ subject: subj });
  const start = process.hrtime.bigint();
  await sendAll(producer, subj, COUNT);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await client.close();
  return COUNT / secs;
}

async function nodeConsume() {
  const client = new Client(META, 'bench');
  const producer = client.producer();
  const subj = subject('consume');
  const pc = client.consumer().pullConsumer(subj, 'bench');
  for (;;) {
    await producer.send({ subject: subj, properties: { warmup: '1' } });
    const got = await pc.pull(16, 500);
    got.forEach((m) => m.ack());
    if (got.length) break;
  }
  await sendAll(producer, subj, COUNT);
  const start = process.hrtime.bigint();
  let got = 0;
  while (got < COUNT) {
    for (const m of await pc.pull(64, 1000)) {
      if (m.get('warmup') === undefined) got += 1;
      m.ack();
    }
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await pc.close();
  await client.close();
  return COUNT / secs;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  for (const [mode, nodeFn] of [['produce', nodeProduce], ['consume', nodeConsume]]) {
    const r = [];
    const n = [];
    for (let i = 0; i < ROUNDS; i += 1) {
      if (i % 2 === 0) { r.push(rust(mode)); n.push(await nodeFn()); } else { n.push(await nodeFn()); r.push(rust(mode)); }
    }
    const rm = median(r);
    const nm = median(n);
    console.log(JSON.stringify({ mode, count: COUNT, rounds: ROUNDS, rust_msgs_per_sec: Math.round(rm),
      node_msgs_per_sec: Math.round(nm), ratio: Number((nm / rm).toFixed(2)), rust: r.map(Math.round), node: n.map(Math.round) }));
  }
})().catch((e) => { console.error(e); process.exit(1); });
