'use strict';
const test = require('node:test');
const assert = require('node:assert');
const qmq = require('qmq');
const { Client, Message, ClosedError, InvalidArgumentError } = qmq;
const { META_URL, unique } = require('./helpers.js');

test('wrong argument types raise TypeError with a clear message', async (t) => {
  assert.throws(() => new Client(42, 'app'), { name: 'TypeError', message: 'metaUrl must be a string, not number' });
  assert.throws(() => new Client(META_URL, 'app', { sendTries: 'x' }), TypeError);
  assert.throws(() => new Client(META_URL, 'app', { bogus: 1 }), /unknown client option/);
  assert.throws(() => new Message(42), { name: 'TypeError', message: 'subject must be a string, not number' });
  assert.throws(() => new Message('s', { tags: 'x' }), /tags must be an array of strings, not string/);
  assert.throws(() => new Message('s').set('k', {}), /property k must be a string/);
  assert.throws(() => new Message('s', { delayMs: -1 }), TypeError);

  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  const producer = client.producer();
  assert.throws(() => producer.send(42), /message must be a qmq.Message or an object with a subject, not number/);
  assert.throws(() => producer.send(null), TypeError);
  assert.throws(() => producer.sendBatch('nope'), /messages must be an array/);
  assert.throws(() => producer.sendBatch([new Message('a.b'), 7]), /messages\[1\]/);
  const consumer = client.consumer();
  assert.throws(() => consumer.pullConsumer(1, 'g'), /subject must be a string/);
  assert.throws(() => consumer.pullConsumer('s', 'g', { tags: [1] }), /tags must be an array of strings/);
  assert.throws(() => consumer.subscribe('s', 'g', 'notafunction'), /handler must be a function, not string/);
  const pc = consumer.pullConsumer(unique('node.err'), 'g');
  await assert.rejects(pc.pull('ten'), /max must be a positive integer/);
  await pc.close();
});

test('invalid values raise InvalidArgumentError', async (t) => {
  const client = new Client(META_URL, 'node-test');
  t.after(() => client.close());
  await assert.rejects(client.producer().send(new Message('')), InvalidArgumentError);
  await assert.rejects(client.producer().send(new Message('a.b').set('qmq_times', '1')), (e) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.equal(e.retriable, false);
    return true;
  });
});

test('using a closed producer or consumer raises ClosedError', async () => {
  const client = new Client(META_URL, 'node-test');
  const producer = client.producer();
  const consumer = client.consumer();
  const pc = consumer.pullConsumer(unique('node.closed'), 'g');
  await client.close();
  await client.close(); // idempotent
  assert.throws(() => producer.send(new Message('a.b')), { name: 'ClosedError', message: 'the producer is closed' });
  assert.throws(() => producer.sendBatch([]), ClosedError);
  assert.throws(() => client.producer(), ClosedError);
  assert.throws(() => consumer.pullConsumer('a.b', 'g'), ClosedError);
  await assert.rejects(pc.pull(1, 10), ClosedError);

  const c2 = new Client(META_URL, 'node-test');
  const cons = c2.consumer();
  await cons.close();
  assert.throws(() => cons.subscribe('a.b', 'g', async () => {}), /the consumer is closed/);
  await c2.close();
});
