// Type definitions for qmq, the Node.js client of QMQ.

export interface ClientOptions {
  clientId?: string;
  workerThreads?: number;
  sendTries?: number;
  sendTimeoutMs?: number;
  batchSize?: number;
  queueCapacity?: number;
  pullBatchSize?: number;
  pullTimeoutMs?: number;
  maxRetry?: number;
  retryDelayMs?: number;
}

export interface MessageOptions {
  properties?: Record<string, string | number | boolean>;
  tags?: string[];
  delayMs?: number;
  delayUntil?: Date | number;
  maxRetries?: number;
}

/** A plain object accepted wherever a Message is. */
export interface MessageLike extends MessageOptions {
  subject: string;
}

export interface ConsumeOptions {
  /** Server-side tag filter; empty = every message. */
  tags?: string[];
  /** How tags combine (default 'or'). */
  tagType?: 'or' | 'and';
  /** Every client gets every message (group may be ''). */
  broadcast?: boolean;
  atMostOnce?: boolean;
  maxRetry?: number;
  /** Listener only: handlers running at once (default 8). */
  concurrency?: number;
}

export interface MessagesOptions extends ConsumeOptions {
  /** Messages pulled per round trip (default 64). */
  batch?: number;
}

export interface SendReceipt {
  messageId: string;
  brokerGroup: string;
  attempts: number;
}

export type BatchResult =
  | { ok: true; receipt: SendReceipt }
  | { ok: false; error: QmqError };

export class QmqError extends Error {
  /** The core error variant, e.g. 'QueueFull'. */
  readonly kind: string;
  readonly retriable: boolean;
}
export class ClosedError extends QmqError {}
export class QueueFullError extends QmqError {}
export class InvalidArgumentError extends QmqError {}
export class SendError extends QmqError {}

export class Message {
  constructor(subject: string, options?: MessageOptions);
  readonly subject: string;
  readonly properties: Record<string, string>;
  readonly tags: string[];
  set(key: string, value: string | number | boolean): this;
  addTag(tag: string): this;
  setDelay(ms: number): this;
  setDelayUntil(at: Date | number): this;
}

export class ReceivedMessage {
  readonly subject: string;
  readonly messageId: string;
  readonly tags: string[];
  readonly createdAt: Date;
  /** Delivery attempt (`qmq_times`), 1 for a first delivery. */
  readonly times: number;
  readonly needsAck: boolean;
  get(key: string): string | undefined;
  getLargeString(key: string): string | undefined;
  attributes(): Array<[string, string]>;
  /** Acks; false if already completed. */
  ack(): boolean;
  /** Fails the message: it is redelivered later. False if already completed. */
  nack(reason?: string | Error): boolean;
}

export class Client {
  constructor(metaUrl: string, appCode: string, options?: ClientOptions);
  readonly clientId: string;
  readonly closed: boolean;
  producer(): Producer;
  consumer(): Consumer;
  close(timeoutMs?: number): Promise<void>;
}

export class Producer {
  readonly closed: boolean;
  readonly pending: number;
  /** @throws TypeError synchronously for a wrong argument; ClosedError once closed. */
  send(message: Message | MessageLike): Promise<SendReceipt>;
  sendBatch(messages: Array<Message | MessageLike>): Promise<BatchResult[]>;
  flush(timeoutMs?: number): Promise<void>;
}

export interface MessageStream extends AsyncIterable<ReceivedMessage> {
  close(): Promise<void>;
}

export type Handler = (message: ReceivedMessage) => unknown | Promise<unknown>;

export class Consumer {
  readonly closed: boolean;
  pullConsumer(subject: string, group: string, options?: ConsumeOptions): PullConsumer;
  /** `for await (const msg of consumer.messages(subject, group))`. */
  messages(subject: string, group: string, options?: MessagesOptions): MessageStream;
  /** Resolve = ack, reject/throw = retry. */
  subscribe(subject: string, group: string, handler: Handler, options?: ConsumeOptions): Subscription;
  close(): Promise<void>;
}

export class PullConsumer {
  readonly subject: string;
  readonly group: string;
  readonly closed: boolean;
  pull(max?: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
}

export class Subscription {
  readonly subject: string;
  readonly group: string;
  readonly stopped: boolean;
  stop(timeoutMs?: number): Promise<boolean>;
  close(): Promise<boolean>;
}

export const nativeVersion: string;
