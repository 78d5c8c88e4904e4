'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { Client, Message } = require('qmq');
const { META_URL, unique, pullReal: pullN, warmUpPull } = require('./helpers.js');

test('send, pull and ack', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const subject = unique('node.sendpull');
  const pc = client.consumer().pullConsumer(subject, 'g1');
  await warmUpPull(client.producer(), pc, subject);
  const receipt = await client.producer().send(new Message(subject, { properties: { k: 'v', n: 7 } }));
  assert.equal(typeof receipt.messageId, 'string');
  assert.ok(receipt.attempts >= 1);
  const [m] = await pullN(pc, 1);
  assert.ok(m, 'message received');
  assert.equal(m.messageId, receipt.messageId);
  assert.equal(m.subject, subject);
  assert.equal(m.get('k'), 'v');
  assert.equal(m.get('n'), '7');
  assert.equal(m.get('missing'), undefined);
  assert.equal(m.times, 1);
  assert.equal(m.needsAck, false);
  assert.equal(m.ack(), false, 'second ack is a no-op');
  await pc.close();
});

test('plain objects are accepted as messages and sendBatch keeps order', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const subject = unique('node.batch');
  const pc = client.consumer().pullConsumer(subject, 'g1');
  await warmUpPull(client.producer(), pc, subject);
  const results = await client.producer().sendBatch(
    Array.from({ length: 20 }, (_, i) => ({ subject, properties: { i: String(i) } })),
  );
  assert.equal(results.length, 20);
  assert.ok(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
  const got = await pullN(pc, 20);
  assert.deepEqual(got.map((m) => Number(m.get('i'))).sort((a, b) => a - b), [...Array(20).keys()]);
  await pc.close();
});

test('for await iterates messages and break closes the subscription', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const subject = unique('node.forawait');
  const consumer = client.consumer();
  const stream = consumer.messages(subject, 'g1');
  const producer = client.producer();
  const iter = stream[Symbol.asyncIterator]();
  // Warm up: the group exists once a first message arrived through the iterator.
  const sender = setInterval(() => producer.send({ subject, properties: { warmup: '1' } }), 300);
  await producer.send({ subject, properties: { warmup: '1' } });
  const first = await iter.next();
  clearInterval(sender);
  assert.equal(first.value.get('warmup'), '1');
  await producer.sendBatch([1, 2, 3].map((i) => new Message(subject).set('i', i)));
  const seen = [];
  for await (const msg of { [Symbol.asyncIterator]: () => iter }) {
    if (msg.get('warmup')) continue;
    seen.push(msg.get('i'));
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen.sort(), ['1', '2', '3']);
});

test('tags filter on the server', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const subject = unique('node.tags');
  const pc = client.consumer().pullConsumer(subject, 'g1', { tags: ['red'] });
  const producer = client.producer();
  // Warm up with a matching tag (untagged messages are filtered out).
  for (let i = 0; i < 60; i += 1) {
    await producer.send(new Message(subject, { tags: ['red'] }).set('warmup', '1'));
    const got = await pc.pull(16, 500);
    got.forEach((m) => m.ack());
    if (got.length > 0) break;
  }
  await producer.send(new Message(subject, { tags: ['blue'] }).set('c', 'blue'));
  await producer.send(new Message(subject, { tags: ['red'] }).set('c', 'red'));
  const got = await pullN(pc, 2, { timeoutMs: 3000 });
  assert.deepEqual(got.map((m) => m.get('c')), ['red']);
  assert.deepEqual(got[0].tags, ['red']);
  await pc.close();
});

test('delayed message arrives after its delay', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const subject = unique('node.delay');
  const pc = client.consumer().pullConsumer(subject, 'g1');
  await warmUpPull(client.producer(), pc, subject);
  const sentAt = Date.now();
  await client.producer().send(new Message(subject, { delayMs: 1500 }));
  const [m] = await pullN(pc, 1, { timeoutMs: 30000 });
  assert.ok(m, 'delayed message received');
  assert.ok(Date.now() - sentAt >= 1000, `arrived after ${Date.now() - sentAt} ms`);
  await pc.close();
});

test('broadcast delivers to every client', async (t) => {
  const a = new Client(META_URL, 'node-test');
  const b = new Client(META_URL, 'node-test');
  t.after(() => Promise.all([a.close(), b.close()]));
  const subject = unique('node.broadcast');
  const pa = a.consumer().pullConsumer(subject, '', { broadcast: true });
  const pb = b.consumer().pullConsumer(subject, '', { broadcast: true });
  await warmUpPull(a.producer(), pa, subject);
  await warmUpPull(a.producer(), pb, subject);
  await a.producer().send(new Message(subject));
  const [ga, gb] = await Promise.all([pullN(pa, 1), pullN(pb, 1)]);
  assert.equal(ga.length, 1);
  assert.equal(gb.length, 1);
  assert.equal(ga[0].messageId, gb[0].messageId);
  await Promise.all([pa.close(), pb.close()]);
});
