'use strict';
// Test helpers: the meta URL of the server started by ci/node-tests.sh (QMQ_META_URL), unique
// subject names, and polling with a deadline.
const assert = require('node:assert');

const META_URL = process.env.QMQ_META_URL;
assert.ok(META_URL, 'QMQ_META_URL must point at a running qmq-server (see ci/node-tests.sh)');

let seq = 0;
function unique(prefix) {
  seq += 1;
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${seq}`;
}

async function until(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Pulls until `n` messages arrived (or the deadline); acks each unless `ack` is false. */
async function pullN(pc, n, { ack = true, timeoutMs = 20000 } = {}) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n && Date.now() < deadline) {
    for (const m of await pc.pull(n - got.length, 500)) {
      got.push(m);
      if (ack) m.ack();
    }
  }
  return got;
}

/**
 * A new consumer group starts at the subject's end once it is registered: send warm-up
 * messages until one arrives, so later messages are not sent before the group exists.
 */
async function warmUpPull(producer, pc, subject) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    await producer.send({ subject, properties: { warmup: '1' } });
    const got = await pc.pull(16, 500);
    got.forEach((m) => m.ack());
    if (got.length > 0) return;
  }
  assert.fail('the pull consumer never received a warm-up message');
}

/** The same for a listener that records messages into `seen`. */
async function warmUpListener(producer, seen, subject) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    await producer.send({ subject, properties: { warmup: '1' } });
    const t = Date.now();
    while (Date.now() - t < 500) {
      if (seen.some((m) => m.warmup)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.fail('the listener never received a warm-up message');
}

/** Pulls until `n` non-warm-up messages arrived; acks every message. */
async function pullReal(pc, n, { timeoutMs = 20000 } = {}) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n && Date.now() < deadline) {
    for (const m of await pc.pull(16, 500)) {
      m.ack();
      if (!m.get('warmup')) got.push(m);
    }
  }
  return got;
}

module.exports = { META_URL, unique, until, pullN, pullReal, warmUpPull, warmUpListener };
