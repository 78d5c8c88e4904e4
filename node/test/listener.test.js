'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { Client, Message } = require('qmq');
const { META_URL, unique, until, warmUpListener } = require('./helpers.js');

test('async handler that resolves acks once', async (t) => {
  const client = new Client(META_URL, 'node-test', { retryDelayMs: 500 });
  t.after(() => client.close());
  const subject = unique('node.listen.ok');
  const seen = [];
  const warm = [];
  const sub = client.consumer().subscribe(subject, 'g1', async (msg) => {
    await new Promise((r) => setTimeout(r, 10)); // the event loop keeps running
    if (msg.get('warmup')) { warm.push({ warmup: true }); return; }
    seen.push(msg.times);
  });
  await warmUpListener(client.producer(), warm, subject);
  await client.producer().send(new Message(subject));
  await until('one delivery', () => seen.length === 1);
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(seen, [1]);
  assert.equal(await sub.stop(), true);
});

test('rejecting handler makes the message come back with times 2', async (t) => {
  const client = new Client(META_URL, 'node-test', { retryDelayMs: 500 });
  t.after(() => client.close());
  const subject = unique('node.listen.retry');
  const seen = [];
  const warm = [];
  const sub = client.consumer().subscribe(subject, 'g1', async (msg) => {
    if (msg.get('warmup')) { warm.push({ warmup: true }); return undefined; }
    seen.push(msg.times);
    if (msg.times === 1) throw new Error('try again');
    return undefined;
  });
  await warmUpListener(client.producer(), warm, subject);
  await client.producer().send(new Message(subject));
  await until('redelivery', () => seen.length >= 2, 30000);
  assert.deepEqual(seen.slice(0, 2), [1, 2]);
  await sub.stop();
});

test('a synchronous throw also retries', async (t) => {
  const client = new Client(META_URL, 'node-test', { retryDelayMs: 500 });
  t.after(() => client.close());
  const subject = unique('node.listen.throw');
  const seen = [];
  const warm = [];
  const sub = client.consumer().subscribe(subject, 'g1', (msg) => {
    if (msg.get('warmup')) { warm.push({ warmup: true }); return undefined; }
    seen.push(msg.times);
    if (msg.times === 1) throw new Error('sync failure');
    return undefined;
  });
  await warmUpListener(client.producer(), warm, subject);
  await client.producer().send(new Message(subject));
  await until('redelivery', () => seen.length >= 2, 30000);
  assert.deepEqual(seen.slice(0, 2), [1, 2]);
  await sub.stop();
});
