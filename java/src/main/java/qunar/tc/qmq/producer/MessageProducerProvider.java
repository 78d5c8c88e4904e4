package qunar.tc.qmq.producer;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import qunar.tc.qmq.ClosedException;
import qunar.tc.qmq.InvalidArgumentException;
import qunar.tc.qmq.Message;
import qunar.tc.qmq.MessageProducer;
import qunar.tc.qmq.MessageSendStateListener;
import qunar.tc.qmq.QueueFullException;
import qunar.tc.qmq.base.BaseMessage;
import qunar.tc.qmq.base.MessageCodec;
import qunar.tc.qmq.internal.Native;
import qunar.tc.qmq.internal.NativeHandle;
import qunar.tc.qmq.internal.SendCompletion;
import qunar.tc.qmq.internal.SendTable;

/**
 * QMQ's producer, over the Rust client core. Configure with the setters, call {@link #init()}
 * (Spring: {@code init-method}), send, and {@link #destroy()} at shutdown.
 *
 * <pre>{@code
 * MessageProducerProvider producer = new MessageProducerProvider();
 * producer.setAppCode("my-app");
 * producer.setMetaServer("http://meta:8080/meta/address");
 * producer.init();
 * Message m = producer.generateMessage("order.changed");
 * m.setProperty("orderId", 42L);
 * producer.sendMessage(m, listener);
 * }</pre>
 *
 * <p>Sends are asynchronous: messages are batched and retried by the core, and each
 * message's {@link MessageSendStateListener} (or {@link CompletableFuture}) learns the outcome
 * on the client's completion thread. At most {@link #setMaxQueueSize(int)} messages are pending;
 * beyond that a send waits for one to complete (up to {@link #setMaxQueueWaitMillis(long)},
 * then the message fails with a {@link QueueFullException}). Thread-safe.
 */
public class MessageProducerProvider implements MessageProducer, AutoCloseable {
    private static final long CLOSE_TIMEOUT_MILLIS = 10_000;
    private static final int DEFAULT_QUEUE_SIZE = 10_000;
    /** Message ids fetched from the native library per call. */
    private static final int ID_BATCH = 256;

    private final long[] options = new long[Native.OPT_COUNT];
    private volatile NativeHandle handle;
    private String appCode;
    private String metaServer;
    private String clientId;
    private long maxQueueWaitMillis = 30_000;
    private volatile Semaphore window;
    private volatile boolean closed;
    private final ArrayDeque<String> ids = new ArrayDeque<>(ID_BATCH);

    /** A producer to configure with {@link #setMetaServer(String)} and {@link #setAppCode}. */
    public MessageProducerProvider() {
        Arrays.fill(options, -1);
    }

    /**
     * @param metaServer the meta server's HTTP locator, {@code http://host:port/meta/address}
     */
    public MessageProducerProvider(String metaServer) {
        this();
        this.metaServer = metaServer;
    }

    /** @param appCode the application's unique name (required) */
    public void setAppCode(String appCode) {
        this.appCode = appCode;
    }

    /** @param metaServer the meta server's HTTP locator URL (required) */
    public void setMetaServer(String metaServer) {
        this.metaServer = metaServer;
    }

    /** @param clientId a fixed client id instead of the generated {@code host@@hex} one */
    public void setClientId(String clientId) {
        this.clientId = clientId;
    }

    /** @param maxQueueSize most messages pending in memory (default 10000) */
    public void setMaxQueueSize(int maxQueueSize) {
        options[Native.OPT_QUEUE_CAPACITY] = maxQueueSize;
    }

    /** @param sendThreads runtime worker threads of the client */
    public void setSendThreads(int sendThreads) {
        options[Native.OPT_WORKER_THREADS] = sendThreads;
    }

    /** @param sendBatch most messages per send request (default 30) */
    public void setSendBatch(int sendBatch) {
        options[Native.OPT_BATCH_SIZE] = sendBatch;
    }

    /** @param sendTryCount attempts per message (default 10) */
    public void setSendTryCount(int sendTryCount) {
        options[Native.OPT_SEND_TRIES] = sendTryCount;
    }

    /** @param timeoutMillis per-attempt timeout */
    public void setSendTimeoutMillis(long timeoutMillis) {
        options[Native.OPT_SEND_TIMEOUT_MS] = timeoutMillis;
    }

    /** @param millis how long a send waits for room in a full queue before failing */
    public void setMaxQueueWaitMillis(long millis) {
        this.maxQueueWaitMillis = millis;
    }

    /**
     * Starts the client (idempotent).
     *
     * @throws InvalidArgumentException if the app code or meta server is missing or invalid
     */
    public synchronized void init() {
        if (handle != null) {
            return;
        }
        if (appCode == null || appCode.isEmpty()) {
            throw new InvalidArgumentException("appCode must be set before init()", "Config", false);
        }
        if (metaServer == null || metaServer.isEmpty()) {
            throw new InvalidArgumentException("metaServer must be set before init()", "Config",
                    false);
        }
        long queue = options[Native.OPT_QUEUE_CAPACITY];
        // The window keeps the native queue from ever filling up: a full window blocks the
        // sender until a completion frees a slot, instead of retrying a refused send.
        window = new Semaphore(queue > 0 ? (int) Math.min(queue, Integer.MAX_VALUE)
                : DEFAULT_QUEUE_SIZE);
        handle = new NativeHandle("producer", Native.clientNew(metaServer, appCode, clientId, options));
        Native.startCompletions();
    }

    private NativeHandle handle() {
        NativeHandle h = handle;
        if (h == null) {
            throw new ClosedException("MessageProducerProvider.init() was not called", "NotStarted",
                    false);
        }
        return h;
    }

    @Override
    public Message generateMessage(String subject) {
        if (subject == null) {
            throw new InvalidArgumentException("subject must not be null", "InvalidName", false);
        }
        if (closed) {
            throw new ClosedException("the producer is closed", "Closed", false);
        }
        return new BaseMessage(nextId(), subject);
    }

    private String nextId() {
        synchronized (ids) {
            String id = ids.poll();
            if (id != null) {
                return id;
            }
            NativeHandle h = handle();
            long p = h.acquire();
            try {
                Collections.addAll(ids, Native.producerNextIds(p, ID_BATCH));
            } finally {
                h.release();
            }
            return ids.poll();
        }
    }

    @Override
    public void sendMessage(Message message) {
        send(message, null, null);
    }

    @Override
    public void sendMessage(Message message, MessageSendStateListener listener) {
        send(message, listener, null);
    }

    /**
     * Sends a message; the future completes with it once a broker stored it, or exceptionally
     * with a {@link qunar.tc.qmq.QmqException}.
     *
     * @param message a message from {@link #generateMessage(String)}
     * @return the outcome
     */
    public CompletableFuture<Message> sendMessageAsync(Message message) {
        CompletableFuture<Message> future = new CompletableFuture<>();
        send(message, null, future);
        return future;
    }

    @Override
    public void sendMessage(Message message, int orderIdentifier) {
        throw new UnsupportedOperationException("ordered messages are not supported");
    }

    @Override
    public void sendMessage(Message message, MessageSendStateListener listener,
            int orderIdentifier) {
        throw new UnsupportedOperationException("ordered messages are not supported");
    }

    private void send(Message message, MessageSendStateListener listener,
            CompletableFuture<Message> future) {
        if (!(message instanceof BaseMessage) || ((BaseMessage) message).isReceived()) {
            throw new InvalidArgumentException(
                    "message must come from generateMessage (got " + message + ")", "InvalidMessage",
                    false);
        }
        NativeHandle h = handle();
        byte[] bytes = MessageCodec.encode((BaseMessage) message);
        SendCompletion completion = new SendCompletion(message, listener, future, window);
        boolean admitted;
        try {
            admitted = window.tryAcquire() || window.tryAcquire(maxQueueWaitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            admitted = false;
        }
        if (!admitted) {
            failQueueFull(listener, future, message);
            return;
        }
        long token = SendTable.add(completion);
        long deadline = 0;
        long park = 20_000;
        while (true) {
            int status;
            try {
                long p = h.acquire();
                try {
                    status = Native.producerSend(p, bytes, token);
                } finally {
                    h.release();
                }
            } catch (RuntimeException e) {
                // Refused: the token will never complete.
                SendTable.take(token);
                window.release();
                throw e;
            }
            if (status == Native.SEND_ACCEPTED) {
                return;
            }
            // The native queue is full although the window had room (retries count in the
            // queue too): wait for room instead of failing at once. Nothing was queued, so the
            // token is still ours.
            long now = System.nanoTime();
            if (deadline == 0) {
                deadline = now + TimeUnit.MILLISECONDS.toNanos(maxQueueWaitMillis);
            } else if (now - deadline > 0) {
                SendTable.take(token);
                window.release();
                failQueueFull(listener, future, message);
                return;
            }
            LockSupport.parkNanos(park);
            park = Math.min(park * 2, 1_000_000);
        }
    }

    private void failQueueFull(MessageSendStateListener listener, CompletableFuture<Message> future,
            Message message) {
        QueueFullException e = new QueueFullException(
                "the producer queue stayed full for " + maxQueueWaitMillis + " ms", "QueueFull", true);
        if (listener != null) {
            listener.onFailed(message);
        }
        if (future != null) {
            future.completeExceptionally(e);
        }
    }

    /**
     * Waits until every message sent so far has completed.
     *
     * @param timeoutMillis the longest wait
     * @throws qunar.tc.qmq.QmqException (kind {@code FlushTimeout}) if some are still pending
     */
    public void flush(long timeoutMillis) {
        NativeHandle h = handle();
        long p = h.acquire();
        try {
            Native.producerFlush(p, timeoutMillis);
        } finally {
            h.release();
        }
    }

    /** @return messages sent and not yet completed */
    public int pending() {
        NativeHandle h = handle();
        long p = h.acquire();
        try {
            return Native.producerPending(p);
        } finally {
            h.release();
        }
    }

    /** @return this client's id */
    public String getClientId() {
        NativeHandle h = handle();
        long p = h.acquire();
        try {
            return Native.clientId(p);
        } finally {
            h.release();
        }
    }

    /**
     * Stops accepting messages, waits up to 10 s for pending ones, then stops the client and
     * frees it. Later sends throw {@link ClosedException}. Idempotent.
     */
    public void destroy() {
        NativeHandle h;
        synchronized (this) {
            h = handle;
        }
        if (h == null || h.isFreed()) {
            return;
        }
        closed = true;
        try {
            long p = h.acquire();
            try {
                Native.clientClose(p, CLOSE_TIMEOUT_MILLIS);
            } finally {
                h.release();
            }
        } catch (ClosedException alreadyFreed) {
            return;
        }
        h.free(Native::clientFree);
    }

    /**
     * Internal, for {@code qunar.tc.qmq.producer.tx}: the started client's native handle.
     *
     * @return the handle
     * @throws ClosedException if {@link #init()} was not called
     */
    public NativeHandle nativeHandle() {
        return handle();
    }

    /** Same as {@link #destroy()}. */
    @Override
    public void close() {
        destroy();
    }
}
