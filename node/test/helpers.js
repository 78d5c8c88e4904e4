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

module.exports = { META_URL, unique, until, pullN };
