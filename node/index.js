'use strict';
// qmq: the Node.js client of QMQ. A thin layer over the native addon (napi-rs, qmq-core):
// argument validation with clear TypeErrors, typed errors, Promise/async-iterator APIs.
// Nothing here blocks the event loop: every wait happens in native code off the JS thread.

const native = loadNative();

function loadNative() {
  const { platform, arch } = process;
  let abi = '';
  if (platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    abi = report && report.header && report.header.glibcVersionRuntime ? '-gnu' : '-musl';
  }
  const names = [`./qmq.${platform}-${arch}${abi}.node`, './qmq.node'];
  const failures = [];
  for (const name of names) {
    try {
      return require(name);
    } catch (e) {
      failures.push(`${name}: ${e.message}`);
    }
  }
  throw new Error(`qmq: no native addon for ${platform}-${arch}${abi}:\n  ${failures.join('\n  ')}`);
}

// ---- errors -------------------------------------------------------------------------------

class QmqError extends Error {
  constructor(message, kind = 'Unknown', retriable = false) {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
    this.retriable = retriable;
  }
}
class ClosedError extends QmqError {}
class QueueFullError extends QmqError {}
class InvalidArgumentError extends QmqError {}
class SendError extends QmqError {}
const ERROR_CLASSES = { QmqError, ClosedError, QueueFullError, InvalidArgumentError, SendError };

const PREFIX = /^QMQ\|(\w+)\|(\w+)\|([01])\|([\s\S]*)$/;

/** Turns a native error (message `QMQ|Class|kind|retriable|text`) into a typed error. */
function fromNative(e) {
  const text = typeof e === 'string' ? e : e && e.message;
  const m = typeof text === 'string' ? PREFIX.exec(text) : null;
  if (!m) return e;
  const Cls = ERROR_CLASSES[m[1]] || QmqError;
  return new Cls(m[4], m[2], m[3] === '1');
}

async function call(promise) {
  try {
    return await promise;
  } catch (e) {
    throw fromNative(e);
  }
}

function sync(fn) {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e);
  }
}

// ---- validation ---------------------------------------------------------------------------

function typeName(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return v.constructor ? v.constructor.name : 'object';
  return typeof v;
}

function expect(what, value, expected, ok) {
  if (!ok) throw new TypeError(`${what} must be ${expected}, not ${typeName(value)}`);
}

const isStr = (v) => typeof v === 'string';
const isUint = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isOpt = (v, test) => v === undefined || v === null || test(v);

// ---- messages -----------------------------------------------------------------------------

/** An outgoing message. */
class Message {
  constructor(subject, { properties, tags, delayMs, delayUntil, maxRetries } = {}) {
    expect('subject', subject, 'a string', isStr(subject));
    this.subject = subject;
    this.properties = {};
    this.tags = [];
    this.delayMs = undefined;
    this.delayUntilMs = undefined;
    this.maxRetries = undefined;
    if (properties !== undefined && properties !== null) {
      expect('properties', properties, 'an object of strings', typeof properties === 'object' && !Array.isArray(properties));
      for (const [k, v] of Object.entries(properties)) this.set(k, v);
    }
    if (tags !== undefined && tags !== null) {
      expect('tags', tags, 'an array of strings', Array.isArray(tags));
      for (const t of tags) this.addTag(t);
    }
    if (delayMs !== undefined && delayMs !== null) this.setDelay(delayMs);
    if (delayUntil !== undefined && delayUntil !== null) this.setDelayUntil(delayUntil);
    if (maxRetries !== undefined && maxRetries !== null) {
      expect('maxRetries', maxRetries, 'a non-negative integer', isUint(maxRetries));
      this.maxRetries = maxRetries;
    }
  }

  /** Sets a string property (numbers and booleans are converted). */
  set(key, value) {
    expect('a property key', key, 'a string', isStr(key));
    expect(`property ${key}`, value, 'a string, number or boolean',
      isStr(value) || typeof value === 'number' || typeof value === 'boolean');
    this.properties[key] = String(value);
    return this;
  }

  addTag(tag) {
    expect('a tag', tag, 'a string', isStr(tag));
    this.tags.push(tag);
    return this;
  }

  setDelay(ms) {
    expect('delayMs', ms, 'a non-negative number', typeof ms === 'number' && Number.isFinite(ms) && ms >= 0);
    this.delayMs = ms;
    return this;
  }

  setDelayUntil(at) {
    const ms = at instanceof Date ? at.getTime() : at;
    expect('delayUntil', at, 'a Date or epoch milliseconds', typeof ms === 'number' && Number.isFinite(ms) && ms >= 0);
    this.delayUntilMs = ms;
    return this;
  }

  /** The shape the native addon reads. */
  toNative() {
    return {
      subject: this.subject,
      properties: flatten(this.properties),
      tags: this.tags,
      delayMs: this.delayMs,
      delayUntilMs: this.delayUntilMs,
      maxRetries: this.maxRetries,
    };
  }
}

function flatten(props) {
  const out = [];
  for (const k in props) out.push(k, props[k]);
  return out;
}

function isPlainStrings(o) {
  for (const k in o) if (typeof o[k] !== 'string') return false;
  return true;
}

function toNativeMessage(m, what = 'message') {
  if (m instanceof Message) return m.toNative();
  // Fast path (batch sends): `{subject, properties}` with string values only.
  if (m !== null && typeof m === 'object' && typeof m.subject === 'string' && m.tags === undefined
      && m.delayMs === undefined && m.delayUntil === undefined && m.maxRetries === undefined
      && (m.properties === undefined || (m.properties !== null && typeof m.properties === 'object'
        && !Array.isArray(m.properties) && isPlainStrings(m.properties)))) {
    return { subject: m.subject, properties: m.properties === undefined ? undefined : flatten(m.properties) };
  }
  if (m !== null && typeof m === 'object' && !Array.isArray(m)) {
    return new Message(m.subject, m).toNative();
  }
  throw new TypeError(`${what} must be a qmq.Message or an object with a subject, not ${typeName(m)}`);
}

/** A received message. Pulled messages must be acked or nacked once. */
class ReceivedMessage {
  constructor(ref) {
    this._ref = ref;
  }
  get subject() { return this._ref.subject; }
  get messageId() { return this._ref.messageId; }
  get tags() { return this._ref.tags; }
  get createdAt() { return new Date(this._ref.createdMs); }
  /** Delivery attempt (`qmq_times`), 1 for a first delivery. */
  get times() { return this._ref.times; }
  get needsAck() { return this._ref.needsAck; }
  /** A property (or any attribute), or `undefined`. */
  get(key) {
    expect('key', key, 'a string', isStr(key));
    const v = this._ref.get(key);
    return v === null ? undefined : v;
  }
  getLargeString(key) {
    expect('key', key, 'a string', isStr(key));
    const v = this._ref.getLargeString(key);
    return v === null ? undefined : v;
  }
  /** Every attribute as `[key, value]` pairs. */
  attributes() { return this._ref.attributes(); }
  /** Acks the message. Returns false if it was already completed. */
  ack() { return this._ref.complete(null); }
  /** Fails the message: the broker redelivers it later (`times` + 1). */
  nack(reason = 'nacked') {
    return this._ref.complete(reason instanceof Error ? (reason.stack || reason.message) : String(reason));
  }
}

// ---- client, producer, consumer ------------------------------------------------------------

const CLIENT_OPTIONS = ['clientId', 'workerThreads', 'sendTries', 'sendTimeoutMs', 'batchSize', 'queueCapacity',
  'pullBatchSize', 'pullTimeoutMs', 'maxRetry', 'retryDelayMs'];

function checkClientOptions(options) {
  expect('options', options, 'an object', options !== null && typeof options === 'object' && !Array.isArray(options));
  const out = {};
  for (const [k, v] of Object.entries(options)) {
    if (!CLIENT_OPTIONS.includes(k)) throw new TypeError(`unknown client option ${JSON.stringify(k)}`);
    if (v === undefined || v === null) continue;
    if (k === 'clientId') expect(k, v, 'a string', isStr(v));
    else expect(k, v, 'a non-negative integer', isUint(v));
    out[k] = v;
  }
  return out;
}

function checkConsumeOptions(options) {
  if (options === undefined || options === null) return {};
  expect('options', options, 'an object', typeof options === 'object' && !Array.isArray(options));
  const { tags, tagType, broadcast, atMostOnce, maxRetry, concurrency } = options;
  if (tags !== undefined) {
    expect('tags', tags, 'an array of strings', Array.isArray(tags) && tags.every(isStr));
  }
  if (tagType !== undefined) {
    expect('tagType', tagType, "'or' or 'and'", tagType === 'or' || tagType === 'and');
  }
  if (broadcast !== undefined) expect('broadcast', broadcast, 'a boolean', typeof broadcast === 'boolean');
  if (atMostOnce !== undefined) expect('atMostOnce', atMostOnce, 'a boolean', typeof atMostOnce === 'boolean');
  if (maxRetry !== undefined) expect('maxRetry', maxRetry, 'a non-negative integer', isUint(maxRetry));
  if (concurrency !== undefined) {
    expect('concurrency', concurrency, 'a positive integer', isUint(concurrency) && concurrency > 0);
  }
  return { tags, tagType, broadcast, atMostOnce, maxRetry, concurrency };
}

function checkNames(subject, group) {
  expect('subject', subject, 'a string', isStr(subject));
  expect('group', group, 'a string', isStr(group));
}

/** A connection to one QMQ cluster. */
class Client {
  constructor(metaUrl, appCode, options = {}) {
    expect('metaUrl', metaUrl, 'a string', isStr(metaUrl));
    expect('appCode', appCode, 'a string', isStr(appCode));
    const opts = checkClientOptions(options);
    this._ref = sync(() => new native.ClientRef(metaUrl, appCode, opts));
    this._producer = null;
    this._consumer = null;
  }
  get clientId() { return this._ref.clientId; }
  get closed() { return this._ref.closed; }
  /** The producer of this client (one per client). */
  producer() {
    if (this._ref.closed) throw new ClosedError('the client is closed', 'Closed');
    if (!this._producer) this._producer = new Producer(sync(() => this._ref.producer()));
    return this._producer;
  }
  /** The consumer of this client (one per client). */
  consumer() {
    if (this._ref.closed) throw new ClosedError('the client is closed', 'Closed');
    if (!this._consumer) this._consumer = new Consumer(sync(() => this._ref.consumer()));
    return this._consumer;
  }
  /** Flushes pending sends (up to `timeoutMs`) and stops everything. Idempotent. */
  async close(timeoutMs = 5000) {
    expect('timeoutMs', timeoutMs, 'a non-negative integer', isUint(timeoutMs));
    if (this._consumer) await this._consumer._closeAll();
    await call(this._ref.close(timeoutMs));
  }
}

/** Sends messages. Obtained from `Client.producer()`, closed with the client. */
class Producer {
  constructor(ref) {
    this._ref = ref;
  }
  get closed() { return this._ref.closed; }
  get pending() { return this._ref.pending; }
  _check() {
    if (this._ref.closed) throw new ClosedError('the producer is closed', 'Closed');
  }
  /**
   * Sends one message; resolves with `{messageId, brokerGroup, attempts}`.
   * Throws TypeError (synchronously) for a wrong argument, ClosedError once closed.
   */
  send(message) {
    const m = toNativeMessage(message);
    this._check();
    return call(this._ref.send(m));
  }
  /**
   * Sends many messages in one call; resolves with one entry per message, in order:
   * `{ok: true, receipt}` or `{ok: false, error}`.
   */
  sendBatch(messages) {
    expect('messages', messages, 'an array of messages', Array.isArray(messages));
    const ms = messages.map((m, i) => toNativeMessage(m, `messages[${i}]`));
    this._check();
    return call(this._ref.sendBatch(ms)).then((r) => r.errors.map((err, i) => (err == null
      ? { ok: true, receipt: { messageId: r.messageIds[i], brokerGroup: r.brokerGroups[i], attempts: r.attempts[i] } }
      : { ok: false, error: fromNative(err) })));
  }
  /** Waits up to `timeoutMs` until every accepted message has completed. */
  flush(timeoutMs = 5000) {
    expect('timeoutMs', timeoutMs, 'a non-negative integer', isUint(timeoutMs));
    return call(this._ref.flush(timeoutMs));
  }
}

/** Receives messages: explicit pulls, `for await`, or a listener. */
class Consumer {
  constructor(ref) {
    this._ref = ref;
    this._closed = false;
    this._open = new Set();
  }
  get closed() { return this._closed; }
  _check() {
    if (this._closed) throw new ClosedError('the consumer is closed', 'Closed');
  }

  /** A pull consumer of `subject` for `group`. */
  pullConsumer(subject, group, options) {
    checkNames(subject, group);
    const opts = checkConsumeOptions(options);
    this._check();
    const pc = new PullConsumer(sync(() => this._ref.pullConsumer(subject, group, opts)), this);
    this._open.add(pc);
    return pc;
  }

  /**
   * Messages of `subject` for `group`, as an async iterable. A message you neither `ack()`
   * nor `nack()` is acked when the next one is requested (or when the loop ends normally);
   * leaving the loop with `break`, `return` or a throw closes the subscription.
   */
  messages(subject, group, options) {
    const pc = this.pullConsumer(subject, group, options);
    const batch = Math.max(1, (options && options.batch) || 64);
    return {
      [Symbol.asyncIterator]: () => {
        let buffer = [];
        let last = null;
        return {
          next: async () => {
            if (last && last.needsAck) last.ack();
            last = null;
            while (buffer.length === 0) {
              if (pc.closed) return { done: true, value: undefined };
              try {
                buffer = await pc.pull(batch, 1000);
              } catch (e) {
                if (e instanceof ClosedError) return { done: true, value: undefined };
                throw e;
              }
            }
            last = buffer.shift();
            return { done: false, value: last };
          },
          return: async () => {
            // Unacked buffered messages are failed (retried), never lost.
            for (const m of buffer) m.nack('iteration stopped');
            buffer = [];
            if (last && last.needsAck) last.ack();
            await pc.close();
            return { done: true, value: undefined };
          },
        };
      },
      close: () => pc.close(),
    };
  }

  /**
   * Starts a listener: `handler(message)` is called for each message. If it resolves (or
   * returns) the message is acked; if it rejects (or throws) the message is retried later.
   * Returns a `Subscription`; `await sub.stop()` to end it.
   */
  subscribe(subject, group, handler, options) {
    checkNames(subject, group);
    expect('handler', handler, 'a function', typeof handler === 'function');
    const opts = checkConsumeOptions(options);
    this._check();
    const onMessage = (ref) => {
      const msg = new ReceivedMessage(ref);
      let result;
      try {
        result = Promise.resolve(handler(msg));
      } catch (e) {
        result = Promise.reject(e);
      }
      result.then(
        () => ref.complete(null),
        (e) => ref.complete(e instanceof Error ? (e.stack || e.message) : String(e ?? 'handler rejected')),
      );
    };
    const sub = new Subscription(sync(() => this._ref.subscribe(subject, group, opts, onMessage)), this);
    this._open.add(sub);
    return sub;
  }

  /** Stops every subscription and pull consumer of this consumer. */
  async close() {
    this._closed = true;
    await this._closeAll();
  }

  async _closeAll() {
    const open = [...this._open];
    this._open.clear();
    await Promise.all(open.map((o) => o.close()));
  }
}

/** A subscription consumed by explicit pulls. */
class PullConsumer {
  constructor(ref, owner) {
    this._ref = ref;
    this._owner = owner;
    this._closed = false;
  }
  get subject() { return this._ref.subject; }
  get group() { return this._ref.group; }
  get closed() { return this._closed; }
  /** Resolves with up to `max` messages, waiting at most `timeoutMs`. Ack each one. */
  async pull(max = 32, timeoutMs = 1000) {
    expect('max', max, 'a positive integer', isUint(max) && max > 0);
    expect('timeoutMs', timeoutMs, 'a non-negative integer', isUint(timeoutMs));
    if (this._closed) throw new ClosedError('the pull consumer is closed', 'Closed');
    const refs = await call(this._ref.pull(max, timeoutMs));
    return refs.map((r) => new ReceivedMessage(r));
  }
  async close() {
    if (this._closed) return;
    this._closed = true;
    this._owner._open.delete(this);
    await call(this._ref.close());
  }
}

/** A running listener. */
class Subscription {
  constructor(ref, owner) {
    this._ref = ref;
    this._owner = owner;
  }
  get subject() { return this._ref.subject; }
  get group() { return this._ref.group; }
  get stopped() { return this._ref.stopped; }
  /** Stops pulling and lets running handlers finish (up to `timeoutMs`); resolves whether it stopped. */
  async stop(timeoutMs = 10000) {
    expect('timeoutMs', timeoutMs, 'a non-negative integer', isUint(timeoutMs));
    this._owner._open.delete(this);
    return call(this._ref.stop(timeoutMs));
  }
  close() { return this.stop(); }
}

module.exports = {
  Client,
  Producer,
  Consumer,
  PullConsumer,
  Subscription,
  Message,
  ReceivedMessage,
  QmqError,
  ClosedError,
  QueueFullError,
  InvalidArgumentError,
  SendError,
  nativeVersion: native.nativeVersion(),
};
